"""Rewrite a YOLOv8/11 detection ONNX for another input size and a dynamic batch axis.

Exported YOLO graphs bake the input size into a few head constants: the anchor points
and strides of the box decoder and the DFL reshape shapes. The convolutions themselves
do not care. This rebuilds those constants for a new square size (a multiple of 32) and
turns every leading ``1`` of the head's reshapes into "copy the batch", so one call can
take a batch of frames from several cameras. Done locally from the shipped weights;
nothing is downloaded. Needs the ``onnx`` package.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)


def anchors(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor points (2, A) and strides (A,) of a YOLOv8 head for a square input."""
    points, strides = [], []
    for s in STRIDES:
        n = size // s
        sy, sx = np.meshgrid(np.arange(n) + 0.5, np.arange(n) + 0.5, indexing="ij")
        points.append(np.stack([sx.ravel(), sy.ravel()], axis=1))
        strides.append(np.full(n * n, s, dtype=np.float32))
    return np.concatenate(points).T.astype(np.float32), np.concatenate(strides)


def resize_model(src: Path, dst: Path, size: int) -> Path:
    """Write ``dst``: ``src`` with input ``(batch, 3, size, size)``; returns ``dst``."""
    import onnx
    from onnx import numpy_helper

    if size % 32 or not 128 <= size <= 1280:
        raise ValueError(f"imgsz={size}: must be a multiple of 32 between 128 and 1280")
    model = onnx.load(str(src))
    graph = model.graph
    inp = graph.input[0].type.tensor_type.shape.dim
    old = inp[2].dim_value
    n_old = sum((old // s) ** 2 for s in STRIDES)
    points_old, strides_old = anchors(old)
    points, strides = anchors(size)
    n_new = points.shape[1]
    changed = 0
    for init in graph.initializer:
        a = numpy_helper.to_array(init)
        new = None
        if a.dtype.kind == "i" and a.ndim == 1 and 3 <= a.size <= 4 and a[0] == 1 \
                and (a[-1] == n_old or a[-1] == -1):
            new = a.copy()
            new[0] = 0  # copy the batch dimension (allowzero=0)
            if new[-1] == n_old:
                new[-1] = n_new
        elif a.dtype == np.float32 and a.shape == (1, 2, n_old):
            if not np.allclose(a[0], points_old):
                raise ValueError(f"{src}: constant {init.name} is not the anchor grid")
            new = points[None]
        elif a.dtype == np.float32 and a.shape == (1, n_old):
            if not np.allclose(a[0], strides_old):
                raise ValueError(f"{src}: constant {init.name} is not the stride table")
            new = strides[None]
        if new is not None:
            init.CopyFrom(numpy_helper.from_array(new.astype(a.dtype), init.name))
            changed += 1
    if changed < 5:
        raise ValueError(f"{src}: not a YOLOv8/11 detection head this tool knows "
                         f"({changed} constants matched)")
    inp[0].dim_param, inp[2].dim_value, inp[3].dim_value = "batch", size, size
    out = graph.output[0].type.tensor_type.shape.dim
    out[0].dim_param, out[2].dim_value = "batch", n_new
    del graph.value_info[:]
    for entry in model.metadata_props:
        if entry.key == "imgsz":
            entry.value = f"[{size}, {size}]"
        if entry.key == "batch":
            entry.value = "-1"
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(f".{os.getpid()}.part")
    onnx.save(model, str(tmp))
    tmp.replace(dst)
    log.info("wrote %s (%s at %d px, dynamic batch)", dst, src.name, size)
    return dst
