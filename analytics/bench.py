"""``vigil bench analytics``: motion-gated, region-packed detection versus a naive loop.

Both pipelines run in one process over the same decoded frames of vtest.avi (several
"cameras" are the same clip started at different offsets, so a tick has different
content per camera). Figures printed per sampling rate:

* camera-frames analysed per CPU core-second (analysis = motion, detector, tracker,
  rules; decoding is reported separately since every pipeline pays it equally);
* detector CPU ms per camera-frame and per detector call; share of frames whose
  detector call was skipped; regional versus full-frame passes; the region detector's
  ms per tile, INT8 (the default) against float; how many track boxes were predicted
  instead of detected (full rate) and how well they sit on the naive loop's boxes;
* track recall of the gated pipeline against the naive 640-px loop: a naive track (≥ 3
  frames) is found when boxes of the gated tracker cover it (IoU ≥ 0.5) on at least half
  of its frames;
* peak RSS of one real worker process on one camera.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from analytics.config import parse_camera
from analytics.detections import box_iou
from analytics.mosaic import detect_plans
from analytics.pipeline import CameraPipeline, PipelineOptions
from analytics.sources import Frame
from store.settings import Settings

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def _decode(path: Path, step: int, limit: int | None) -> tuple[list[np.ndarray], float, int]:
    """Sampled frames, CPU seconds spent decoding, source frames read."""
    cap = cv2.VideoCapture(str(path))
    frames, n = [], 0
    c0 = time.process_time()
    while limit is None or len(frames) < limit:
        if n % step:
            ok = cap.grab()
        else:
            ok, img = cap.read()
            if ok:
                frames.append(img)
        if not ok:
            break
        n += 1
    cap.release()
    return frames, time.process_time() - c0, n


def _run(frames: list[np.ndarray], cameras: int, fps: float, gating: bool, detector,
         scale: float, region_detector=None) -> dict:
    """Analyse ``cameras`` offset copies of ``frames``; per camera, tracks per frame."""
    cams = [parse_camera({"id": f"bench-{i}", "stream_url": "bench", "lon": 105.8,
                          "lat": 19.8, "sample_fps": fps, "motion_gating": gating})
            for i in range(cameras)]
    pipes = [CameraPipeline(c, None, PipelineOptions(evidence=False)) for c in cams]
    offsets = [i * len(frames) // cameras for i in range(cameras)]
    tracks: list[dict[int, dict[int, np.ndarray]]] = [defaultdict(dict) for _ in cams]
    predicted: list[tuple[int, int, np.ndarray]] = []  # (camera, frame, box) stand-ins
    calls0 = detector.calls + (region_detector.calls if region_detector else 0)
    cpu = detect_cpu = 0.0
    for k in range(len(frames)):
        batch = [Frame(frames[(k + off) % len(frames)], k / fps, _NOW, k) for off in offsets]
        c0 = time.process_time()
        plans = [p.plan(f) for p, f in zip(pipes, batch)]
        d0 = time.process_time()
        dets = detect_plans(detector, [f.image for f in batch], plans, scale=scale,
                            region_detector=region_detector)
        detect_cpu += time.process_time() - d0
        for i, (p, f, plan, det) in enumerate(zip(pipes, batch, plans, dets)):
            p.complete(f, plan, det)
            t = p.tracked
            for tid, box in zip(t.tracker_id if len(t) else [], t.xyxy if len(t) else []):
                tracks[i][int(tid)][k] = box
            if len(t) and "predicted" in t.data:
                predicted += [(i, k, box) for box in t.xyxy[t.data["predicted"]]]
        cpu += time.process_time() - c0
    n = len(frames) * cameras
    return {"camera_frames": n, "cpu_s": cpu, "detect_cpu_s": detect_cpu,
            "calls": detector.calls + (region_detector.calls if region_detector else 0)
            - calls0,
            "skipped": sum(p.stats.skipped for p in pipes),
            "regional": sum(p.stats.regional for p in pipes),
            "full": sum(p.stats.full for p in pipes), "tracks": tracks,
            "predicted": predicted}


def track_recall(naive: list[dict], gated: list[dict], min_len: int = 3) -> tuple[float, int]:
    """Share of naive tracks (≥ min_len frames) covered by gated boxes on ≥ half their frames."""
    found = total = 0
    for cam_naive, cam_gated in zip(naive, gated):
        by_frame: dict[int, list[np.ndarray]] = defaultdict(list)
        for boxes in cam_gated.values():
            for k, box in boxes.items():
                by_frame[k].append(box)
        for boxes in cam_naive.values():
            if len(boxes) < min_len:
                continue
            total += 1
            hits = sum(1 for k, box in boxes.items() if by_frame.get(k) and
                       box_iou(box[None], np.array(by_frame[k])).max() >= 0.5)
            found += hits >= len(boxes) / 2
    return (found / total if total else 1.0), total


def prediction_quality(naive: list[dict], predicted: list[tuple]) -> tuple[float, float]:
    """Of the gated pipeline's predicted (not detected) boxes: the share that overlaps a
    box of the naive loop's tracks on the same frame with IoU ≥ 0.5, and the median IoU."""
    if not predicted:
        return 1.0, 1.0
    best = []
    for cam, k, box in predicted:
        boxes = [b[k] for b in naive[cam].values() if k in b]
        best.append(box_iou(box[None], np.array(boxes)).max() if boxes else 0.0)
    return float(np.mean(np.array(best) >= 0.5)), float(np.median(best))


def _smaps(pid: int) -> dict[str, float]:
    """Rss, Pss and private memory (MB) of a process from /proc (Linux)."""
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    out[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return out


def _worker_rss(settings: Settings, video: Path, cameras: int = 1) -> dict[str, float]:
    """Peak memory (MB) of one real worker process analysing ``cameras`` cameras."""
    from analytics.worker import Worker, WorkerConfig

    cams = tuple(parse_camera({"id": f"bench-rss-{i}", "stream_url": str(video),
                               "lon": 105.8, "lat": 19.8, "sample_fps": 2})
                 for i in range(cameras))
    ctx = mp.get_context("spawn")
    w = Worker(WorkerConfig("rss", cams, settings, max_frames=40), ctx.Event())
    w.start()
    peak: dict[str, float] = {}
    while w.is_alive():
        now = _smaps(w.pid)
        if now.get("Rss", 0) > peak.get("Rss", 0):
            peak = now
        time.sleep(0.2)
    w.join()
    return {"rss": peak.get("Rss", 0.0), "pss": peak.get("Pss", 0.0),
            "private": peak.get("Private_Clean", 0.0) + peak.get("Private_Dirty", 0.0)}


_NOW = None  # set in run_bench (wall-clock stamp for Frame.ts; not used by the analysis)


def run_bench(settings: Settings, video: Path = VTEST, cameras: int = 4,
              full_rate_frames: int = 150, scale: float = 0.85, region_imgsz: int = 320,
              echo: Callable[[str], None] = print) -> dict:
    """Run the benchmark and print its figures; returns them."""
    global _NOW
    from datetime import datetime, timezone

    from analytics.detectors import make_detector

    _NOW = datetime.now(timezone.utc)
    cache = settings.state_dir / "models"
    detector = make_detector("onnx_yolo", threads=1)
    detectors = {"int8": make_detector("onnx_yolo", threads=1, int8=True, cache_dir=cache),
                 "float": detector}
    regionals = {"int8": make_detector("onnx_yolo", threads=1, imgsz=region_imgsz, int8=True,
                                       cache_dir=cache),
                 "float": make_detector("onnx_yolo", threads=1, imgsz=region_imgsz,
                                        cache_dir=cache)} if region_imgsz \
        else {"int8": None, "float": None}
    src_fps = cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FPS) or 10.0
    results = {}
    echo(f"vigil analytics benchmark on {video.name} ({cameras} cameras = offset copies; "
         f"1 onnxruntime thread; regions at scale {scale} on {region_imgsz}-px tiles; "
         f"gated with INT8 detectors (the default) and with float ones)")
    for label, fps, limit in (("1 fps", 1.0, None), ("full rate", src_fps, full_rate_frames)):
        frames, decode_s, read = _decode(video, max(1, round(src_fps / fps)), limit)
        runs = {"naive 640": _run(frames, cameras, fps, False, detector, scale)}
        naive_ms = 1000 * runs["naive 640"]["detect_cpu_s"] / runs["naive 640"]["calls"]
        for kind, regional in regionals.items():
            full = detectors[kind]
            r0 = (regional.run_cpu_s, regional.calls) if regional else (0.0, 0)
            f0 = (full.run_cpu_s, full.calls)
            runs[f"gated {kind}"] = r = _run(frames, cameras, fps, True, full, scale,
                                             regional)
            r["full_ms_per_image"] = 1000 * (full.run_cpu_s - f0[0]) / max(
                full.calls - f0[1], 1) if full.calls > f0[1] else None
            if regional:
                r["region_ms_per_image"] = 1000 * (regional.run_cpu_s - r0[0]) / max(
                    regional.calls - r0[1], 1)
        row: dict = {"decode_ms_per_source_frame": 1000 * decode_s / max(read, 1)}
        echo(f"\n[{label}] {len(frames)} frames × {cameras} cameras; decoding "
             f"{row['decode_ms_per_source_frame']:.2f} ms CPU per source frame "
             f"({read} read for {len(frames)} sampled)")
        for name, r in runs.items():
            rate = r["camera_frames"] / r["cpu_s"]
            echo(f"  {name:11s} {rate:7.1f} camera-frames/core-s | detector "
                 f"{1000 * r['detect_cpu_s'] / r['camera_frames']:6.1f} ms/camera-frame, "
                 f"{r['calls']} calls ({1000 * r['detect_cpu_s'] / max(r['calls'], 1):.0f} "
                 f"ms/call) | skipped {r['skipped'] / r['camera_frames']:.0%}, regional "
                 f"{r['regional']}, full {r['full']}")
            if "region_ms_per_image" in r:
                full_ms = r["full_ms_per_image"]
                echo(f"  {'':11s} inside onnxruntime: region detector "
                     f"{r['region_ms_per_image']:.1f} ms per {region_imgsz}-px tile, full "
                     f"frame {'—' if full_ms is None else f'{full_ms:.0f} ms'} (naive float "
                     f"640: {naive_ms:.0f} ms/frame with letterbox and decoding)")
            row[name] = {k: v for k, v in r.items() if k not in ("tracks", "predicted")} \
                | {"rate": rate, "predicted": len(r["predicted"])}
            if name != "naive 640":
                recall, n_tracks = track_recall(runs["naive 640"]["tracks"], r["tracks"])
                echo(f"  {'':11s} track recall vs naive: {recall:.3f} over {n_tracks} "
                     "naive tracks")
                row[name] |= {"recall": recall, "naive_tracks": n_tracks}
                if r["predicted"]:
                    near, median = prediction_quality(runs["naive 640"]["tracks"],
                                                      r["predicted"])
                    echo(f"  {'':11s} {len(r['predicted'])} track boxes predicted instead "
                         f"of detected; {near:.1%} of them on a naive box (IoU ≥ 0.5), "
                         f"median IoU {median:.2f}")
                    row[name] |= {"predicted_near": near, "predicted_iou": median}
        results[label] = row
    # a quiet scene: a real frame with sensor noise, as a camera over an empty square sees
    base = _decode(video, 1, 1)[0][0]
    rng = np.random.default_rng(0)
    quiet = [cv2.add(base, rng.integers(0, 4, base.shape, dtype=np.uint8)) for _ in range(80)]
    regional = next(iter(regionals.values()))
    naive = _run(quiet, cameras, 1.0, False, detector, scale)
    gated = _run(quiet, cameras, 1.0, True, detectors["int8"], scale, regional)
    echo(f"\n[static scene, 1 fps] 80 frames × {cameras} cameras (first frame + noise)")
    for name, r in (("naive 640", naive), ("gated", gated)):
        rate = r["camera_frames"] / r["cpu_s"]
        echo(f"  {name:11s} {rate:7.1f} camera-frames/core-s | {r['calls']} detector calls"
             f" | skipped {r['skipped'] / r['camera_frames']:.0%}")
    results["static"] = {"naive": naive["camera_frames"] / naive["cpu_s"],
                         "gated": gated["camera_frames"] / gated["cpu_s"],
                         "skipped": gated["skipped"] / gated["camera_frames"]}
    for n in (1, cameras):
        mem = _worker_rss(settings, video, n)
        echo(f"\nworker process with {n} camera(s), at peak RSS: RSS {mem['rss']:.0f} MB, "
             f"PSS {mem['pss']:.0f} MB, private {mem['private']:.0f} MB "
             f"→ {mem['rss'] / n:.0f} MB RSS per camera")
        results[f"worker_mem_{n}"] = mem
    return results
