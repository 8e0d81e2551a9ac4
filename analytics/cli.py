"""``vigil workers`` (run analytics for the registry's cameras) and ``vigil bench analytics``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click

from store.settings import Settings


@click.command("workers")
@click.option("--camera", "camera_files", multiple=True, type=click.Path(exists=True,
              dir_okay=False, path_type=Path),
              help="JSON file with one camera or a list (instead of the registry).")
@click.option("--group-size", type=int, default=1, show_default=True,
              help="Cameras per worker process (they share one batched detector).")
@click.option("--poll", "poll_s", type=float, default=10.0, show_default=True,
              help="Seconds between registry re-reads (added/removed/changed cameras).")
@click.option("--threads", type=int, default=1, show_default=True,
              help="onnxruntime threads per worker.")
@click.option("--detector", default="onnx_yolo", show_default=True,
              help="Detector backend (onnx_yolo, ultralytics).")
@click.pass_obj
def workers_command(settings: Settings, camera_files: tuple[Path, ...], group_size: int,
                    poll_s: float, threads: int, detector: str) -> None:
    """Run analytics workers until Ctrl-C: detect, track, apply rules, store events.

    Without --camera the registry's enabled cameras run (re-read every --poll seconds);
    cameras given with --camera are first registered (upserted) so their events store.
    """
    from analytics.config import CameraConfigError, load_camera_files
    from analytics.detectors import ModelMissing, check_model, default_model_path
    from analytics.supervisor import Supervisor, SupervisorOptions
    from store.db import open_database

    try:
        cameras = load_camera_files(camera_files) if camera_files else None
        if detector == "onnx_yolo":
            check_model(settings.detector_model or default_model_path())
    except (CameraConfigError, ModelMissing) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = SupervisorOptions(group_size=group_size, poll_s=poll_s,
                                worker={"threads": threads, "detector": detector})
    with open_database(settings) as url:
        if cameras:
            register_cameras(url, cameras)
        sup = Supervisor(settings, url, cameras, options)
        try:   # Ctrl-C may come at any moment, also while the workers start
            sup.start()
            click.echo(f"analytics workers running for {len(sup.slots)} worker(s); "
                       "Ctrl-C stops")
            for cid, err in sup.config_errors.items():
                click.echo(f"camera {cid} not started: {err}", err=True)
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sup.stop()


def register_cameras(url: str, cameras: list) -> None:  # noqa: ANN001 - CameraConfig
    """Upsert cameras given on the command line into the registry (events need them there)."""
    from store.db import connect
    from store.registry import Camera, upsert_cameras

    columns = {"id", "lon", "lat", "stream_url", "homography", "range_m", "ward_id"}
    rows = []
    for cam in cameras:
        data = cam.model_dump(mode="json", exclude_defaults=True)
        data.update(id=cam.id, lon=cam.lon, lat=cam.lat, stream_url=cam.stream_url)
        rows.append(Camera(**{k: v for k, v in data.items() if k in columns},
                           name=cam.name or cam.id,
                           config={k: v for k, v in data.items() if k not in columns
                                   and k not in ("name", "zone_ids")}))
    with connect(url) as conn:
        upsert_cameras(conn, rows)
        conn.commit()


@click.command("analytics")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default="/usr/share/doc/opencv-doc/examples/data/vtest.avi", show_default=True)
@click.option("--cameras", type=int, default=4, show_default=True,
              help="Offset copies of the clip analysed together (batched).")
@click.option("--full-rate-frames", type=int, default=200, show_default=True,
              help="Frames analysed at the clip's full frame rate.")
@click.option("--scale", type=float, default=0.85, show_default=True,
              help="Scale of motion regions packed for the detector.")
@click.option("--region-imgsz", type=int, default=320, show_default=True,
              help="Input size of the region detector (0: the 640-px model).")
@click.option("--stream", type=click.Choice(["1080p"]), default=None,
              help="Instead: decode cost of a 1080p25 camera stream made from the clip, "
                   "OpenCV vs PyAV sources (analytics/sources_bench.py).")
@click.option("--stream-seconds", type=float, default=20.0, show_default=True)
@click.option("--gop-s", type=float, default=1.0, show_default=True,
              help="Keyframe interval of the --stream clip, seconds.")
@click.option("--codec", type=click.Choice(["libx264", "libx265"]), default="libx264",
              show_default=True, help="Encoder of the --stream clip.")
@click.pass_obj
def analytics_bench(settings: Settings, video: Path, cameras: int, full_rate_frames: int,
                    scale: float, region_imgsz: int, stream: str | None,
                    stream_seconds: float, gop_s: float, codec: str) -> None:
    """Gated vs naive detection on vtest.avi: frames/core-s, detector ms, recall, RSS."""
    if stream:
        from analytics.sources_bench import run_stream_bench

        run_stream_bench(video, stream_seconds, gop_s=gop_s, codec=codec, echo=click.echo)
        return
    from analytics.bench import run_bench

    run_bench(settings, video, cameras=cameras, full_rate_frames=full_rate_frames,
              scale=scale, region_imgsz=region_imgsz, echo=click.echo)
