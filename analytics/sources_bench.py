"""Decode cost of one busy camera: the OpenCV source (grabs and decodes every frame)
against the PyAV source (keyframes only at or below the keyframe rate), in one run.

    vigil bench analytics --stream 1080p [--stream-seconds 20] [--gop-s 1] [--codec libx264]
    python -m analytics.sources_bench [--video vtest.avi] [--seconds 20] [--sample-fps 1 5]

Makes a 1920×1080 25 fps H.264 clip with a keyframe every second from real footage
(vtest.avi scaled up, libx264 through PyAV), reads it through both sources and prints the
process CPU seconds per second of video (cores per camera, decode only), with the CPU
model, its AVX2 / AVX-512 VNNI flags and the load average.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from analytics.config import parse_camera
from analytics.sources import FileSource

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def make_clip(video: Path, out: Path, seconds: float, fps: int = 25, gop_s: float = 1.0,
              size: tuple[int, int] = (1920, 1080), codec: str = "libx264") -> Path:
    """``seconds`` of ``video`` (looped) as H.264/H.265 at ``size`` and ``fps`` with a
    keyframe every ``gop_s`` seconds and no B-frames (as IP cameras send)."""
    gop = str(round(fps * gop_s))
    frames = round(seconds * fps)
    with av.open(str(out), "w") as dst:
        stream = dst.add_stream(codec, rate=fps, options={
            "g": gop, "keyint_min": gop, "sc_threshold": "0", "bf": "0",
            "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        n = 0
        while n < frames:
            with av.open(str(video)) as src:
                for frame in src.decode(video=0):
                    if n == frames:
                        break
                    image = frame.reformat(size[0], size[1], "yuv420p")
                    image.pts, image.time_base = n, Fraction(1, fps)
                    dst.mux(stream.encode(image))
                    n += 1
        dst.mux(stream.encode(None))
    return out


def cpu_model() -> str:
    """CPU model name with its AVX2 / AVX-512 VNNI flags."""
    name, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    have = [f for f in ("avx2", "avx512_vnni") if f in flags]
    return f"{name} ({', '.join(have) or 'no avx2'})"


def read_cost(clip: Path, seconds: float, sample_fps: float, decoder: str) -> dict:
    """Read the whole clip through the camera source; CPU seconds per video second."""
    cam = parse_camera({"id": f"bench-{decoder}", "stream_url": str(clip), "lon": 105.8,
                        "lat": 19.8, "sample_fps": sample_fps, "decoder": decoder})
    cpu0, wall0 = time.process_time(), time.perf_counter()
    src = FileSource(cam)
    while src.read() is not None:
        pass
    src.close()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    st = src.stats
    return {"decoder": st.decoder, "mode": st.decode_mode, "decoded": st.frames_decoded,
            "analysed": st.frames_sampled, "read": st.frames_read,
            "cores": cpu / seconds, "wall_s": wall}


def run_stream_bench(video: Path = VTEST, seconds: float = 20.0,
                     sample_fps: tuple[float, ...] = (1.0, 5.0), gop_s: float = 1.0,
                     codec: str = "libx264", echo: Callable[[str], None] = print) -> dict:
    """Print (through ``echo``) and return the decode cores per camera of the OpenCV and
    PyAV sources on one 1080p25 clip, best of two reads each, at each sample rate."""
    echo(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    echo(f"clip: {seconds:g} s of {video.name} as 1920x1080 25 fps {codec}, keyframe every "
         f"{gop_s:g} s, no B-frames; cores = process CPU s / video s (decode only)")
    best: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(video, Path(tmp) / "clip.mp4", seconds, gop_s=gop_s, codec=codec)
        for fps in sample_fps:
            rows = [read_cost(clip, seconds, fps, d)
                    for d in ("opencv", "pyav", "opencv", "pyav")]
            for r in rows:
                echo(f"  {fps:g} fps {r['decoder']:7s} {r['mode']:11s} read {r['read']:4d} "
                     f"decoded {r['decoded']:4d} analysed {r['analysed']:3d}: "
                     f"{r['cores']:.4f} core ({r['wall_s']:.1f} s wall)")
            old = min(r["cores"] for r in rows if r["decoder"] == "opencv")
            new = min(r["cores"] for r in rows if r["decoder"] == "pyav")
            best[fps] = {"opencv": old, "pyav": new}
            echo(f"{fps:g} fps, best of two: OpenCV {old:.4f} core, PyAV {new:.4f} core "
                 f"({old / new:.1f}x less)")
    echo(f"load after: {os.getloadavg()[0]:.2f}")
    return best


def main(argv: list[str] | None = None) -> None:
    """Command line: the same as ``vigil bench analytics --stream 1080p``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=VTEST)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sample-fps", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--gop-s", type=float, default=1.0)
    parser.add_argument("--codec", default="libx264", choices=["libx264", "libx265"])
    args = parser.parse_args(argv)
    run_stream_bench(args.video, args.seconds, tuple(args.sample_fps), args.gop_s,
                     args.codec)


if __name__ == "__main__":
    main()
