"""Recognition: licence plates read by OCR and faces matched against a watchlist.

``plates`` (rapidocr) and ``faces`` (SCRFD + ArcFace through onnxruntime) load their
models only when built. Plate patterns, province codes and voting are in
:mod:`store.plate_format` (the web app validates hotlist entries with them too).
"""
