"""Make an INT8 copy of a YOLOv8/11 detection ONNX, locally, from the float weights.

Static QDQ quantisation by onnxruntime: weights per channel as signed 8-bit, activations
as unsigned 8-bit, ranges calibrated (min/max) on the small set of still photos shipped
in ``analytics/detectors/calibration`` (OpenCV sample images; none of them is a frame
of the benchmark clip), each seen whole and as four quarter crops, as the motion tiles
show objects. The box decoder of the head (DFL, anchors, the final concatenation of
boxes and class scores) stays in float: boxes in pixels and scores in 0..1 cannot share
one 8-bit scale. On a CPU with AVX-512 VNNI the 320-px region detector and the 640-px
full-frame one run 2.2-2.5 times as fast, with the same track recall on vtest.avi.
Nothing is downloaded; the result is written once into the model cache folder.

Run as ``python -m analytics.detectors.onnx_quant SRC DST`` (the detector does this in
a child process, so the worker never loads the calibration machinery).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: Bump when the recipe changes, so cached copies made by an older recipe are not reused.
RECIPE = "q1"
CALIBRATION_DIR = Path(__file__).resolve().parent / "calibration"


def calibration_images(folder: Path = CALIBRATION_DIR) -> list[Path]:
    """The calibration photos, in a fixed order."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))


def _float_head_nodes(model) -> list[str]:  # noqa: ANN001 - onnx.ModelProto
    """Names of the detection head's decoder nodes (kept in float).

    The decoder is every node of the last module (the one that makes the graph output)
    except its convolutions and their activations, plus the fixed DFL convolution.
    """
    producer = {o: n for n in model.graph.node for o in n.output}
    last = producer[model.graph.output[0].name].name
    prefix = last[:last.index("/", 1) + 1] if last.startswith("/") else ""
    if not prefix:
        raise ValueError(f"cannot find the detection head (output made by {last!r})")
    return [n.name for n in model.graph.node if n.name.startswith(prefix) and
            ("/dfl/" in n.name or (n.op_type != "Conv" and "/act/" not in n.name))]


def _letterbox(image: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    s = min(size / h, size / w)
    nh, nw = round(h * s), round(w * s)
    canvas = np.full((size, size, 3), 114, np.uint8)
    py, px = (size - nh) // 2, (size - nw) // 2
    canvas[py:py + nh, px:px + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return canvas


def calibration_tensors(images: Sequence[Path], size: int) -> Iterator[np.ndarray]:
    """Each photo whole and as its four quarters, letterboxed, as (1, 3, size, size) RGB."""
    import cv2

    for path in images:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"calibration image {path}: cannot be read")
        h, w = image.shape[:2]
        views = [image] + [image[y:y + h // 2, x:x + w // 2]
                           for y in (0, h // 2) for x in (0, w // 2)]
        for view in views:
            rgb = _letterbox(view, size)[..., ::-1].transpose(2, 0, 1)[None]
            yield np.ascontiguousarray(rgb, dtype=np.float32) / 255.0


def quantize_model(src: Path, dst: Path, images: Sequence[Path] | None = None) -> Path:
    """Write ``dst``: ``src`` with INT8 QDQ convolutions; returns ``dst``."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod,
                                          QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images = list(images) if images is not None else calibration_images()
    if not images:
        raise ValueError("no calibration images")
    model = onnx.load(str(src))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    name, size = model.graph.input[0].name, dims[2].dim_value
    if not size:
        raise ValueError(f"{src}: input size is not fixed; resize the model first")
    keep_float = _float_head_nodes(model)
    del model

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = calibration_tensors(images, size)

        def get_next(self) -> dict[str, np.ndarray] | None:
            tensor = next(self._it, None)
            return None if tensor is None else {name: tensor}

    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vigil-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        part = dst.with_suffix(f".{os.getpid()}.part")
        quantize_static(str(pre), str(part), _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8, nodes_to_exclude=keep_float,
                        calibrate_method=CalibrationMethod.MinMax)
        part.replace(dst)
    log.info("wrote %s (INT8 of %s, %d calibration images)", dst, src.name, len(images))
    return dst


def int8_copy(src: Path, cache_dir: Path) -> Path:
    """The INT8 copy of ``src`` in ``cache_dir``, made once (in a child process) and cached."""
    target = Path(cache_dir) / f"{src.stem}-int8{RECIPE}.onnx"
    if target.is_file() and target.stat().st_mtime >= src.stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.with_suffix(".lock")
    import fcntl

    with open(lock, "w", encoding="ascii") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # workers starting together quantise once
        if not (target.is_file() and target.stat().st_mtime >= src.stat().st_mtime):
            log.info("quantising %s to INT8 (once; takes a few seconds)", src)
            done = subprocess.run([sys.executable, "-m", __name__, str(src), str(target)],
                                  capture_output=True, text=True, check=False)
            if done.returncode or not target.is_file():
                raise RuntimeError(f"INT8 quantisation of {src} failed: "
                                   f"{done.stderr.strip()[-800:]}")
    return target


if __name__ == "__main__":  # pragma: no cover - run by int8_copy in a child process
    quantize_model(Path(sys.argv[1]), Path(sys.argv[2]))
