"""Traffic violations and scene rules that need pixels or long memory.

Red light (signal-head colour + stop line), wrong way / wrong lane (lane polygons with an
allowed direction), abandoned objects and littering, and no helmet (only with a
configured model). They run after the tracker, beside :mod:`analytics.rules`.
"""
