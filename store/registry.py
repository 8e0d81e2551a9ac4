"""The camera registry: cameras (upsert, list, status) and their heartbeats.

Wards and zones are replaced through :mod:`store.areas` (re-exported here), which also
re-tags cameras and bumps ``area_version`` so writers reload their area index.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

import psycopg
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)

CAMERA_KINDS = ("ai", "legacy", "traffic")
CAMERA_STATUSES = ("unknown", "online", "offline", "tampered", "disabled")


@dataclass(frozen=True)
class Camera:
    """One camera as the registry keeps it (a row of ``cameras``)."""

    id: str
    name: str
    lon: float
    lat: float
    kind: str = "ai"
    heading_deg: float | None = None
    fov_deg: float | None = None
    range_m: float | None = None
    stream_url: str | None = None
    status: str = "unknown"
    ward_id: str | None = None
    zone_ids: tuple[str, ...] = ()
    homography: Mapping[str, Any] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("camera id must not be empty")
        if self.kind not in CAMERA_KINDS:
            raise ValueError(f"camera {self.id}: kind={self.kind!r} not in {CAMERA_KINDS}")
        if self.status not in CAMERA_STATUSES:
            raise ValueError(f"camera {self.id}: status={self.status!r} "
                             f"not in {CAMERA_STATUSES}")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise ValueError(f"camera {self.id}: lon/lat ({self.lon}, {self.lat}) out of range")


def replace_wards(conn: psycopg.Connection, wards, province: str | None = None):
    """Replace wards atomically (see :func:`store.areas.replace_wards`)."""
    from store.areas import replace_wards as replace
    return replace(conn, wards, province)


def replace_zones(conn: psycopg.Connection, zones, province: str | None = None, **kw):
    """Replace zones atomically (see :func:`store.areas.replace_zones`)."""
    from store.areas import replace_zones as replace
    return replace(conn, zones, province, **kw)


_COLUMNS = ("id", "name", "kind", "lon", "lat", "heading_deg", "fov_deg", "range_m",
            "stream_url", "status", "ward_id", "zone_ids", "homography", "config",
            "enabled", "updated_at")


def _camera(row: Sequence[Any]) -> Camera:
    values = dict(zip(_COLUMNS, row))
    values["zone_ids"] = tuple(values["zone_ids"] or ())
    values["config"] = values["config"] or {}
    return Camera(**values)


def upsert_cameras(conn: psycopg.Connection, cameras: Iterable[Camera],
                   tag: bool = True) -> int:
    """Insert or update cameras (by id) in one transaction; returns how many.

    With ``tag`` the cameras' ``ward_id``/``zone_ids`` are recomputed from the areas
    in the database (where there are any).
    """
    rows = [asdict(c) for c in cameras]
    if not rows:
        return 0
    cols = _COLUMNS[:-1]
    with conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO cameras ({', '.join(cols)}) VALUES "
                f"({', '.join(['%s'] * len(cols))}) ON CONFLICT (id) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in cols[1:]) + ", updated_at = now()",
                [tuple(Jsonb(dict(r[c])) if c in ("homography", "config") and r[c] is not None
                       else list(r[c]) if c == "zone_ids" else r[c] for c in cols)
                 for r in rows])
        if tag and conn.execute("SELECT EXISTS (SELECT 1 FROM wards) OR "
                                "EXISTS (SELECT 1 FROM zones)").fetchone()[0]:
            from store.areas import retag_cameras
            retag_cameras(conn)
    return len(rows)


def list_cameras(conn: psycopg.Connection, ward_id: str | None = None,
                 enabled_only: bool = False) -> list[Camera]:
    """Cameras ordered by id, optionally of one ward or only enabled ones."""
    rows = conn.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM cameras WHERE (%s::text IS NULL OR ward_id = %s)"
        " AND (NOT %s OR enabled) ORDER BY id", (ward_id, ward_id, enabled_only))
    return [_camera(r) for r in rows]


def get_camera(conn: psycopg.Connection, camera_id: str) -> Camera | None:
    """One camera, or None."""
    row = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM cameras WHERE id = %s",
                       (camera_id,)).fetchone()
    return None if row is None else _camera(row)


def set_camera_status(conn: psycopg.Connection, camera_id: str, status: str) -> bool:
    """Set a camera's status; returns False when there is no such camera."""
    if status not in CAMERA_STATUSES:
        raise ValueError(f"status={status!r} not in {CAMERA_STATUSES}")
    cur = conn.execute("UPDATE cameras SET status = %s, updated_at = now() WHERE id = %s",
                       (status, camera_id))
    return cur.rowcount == 1


@dataclass(frozen=True)
class Heartbeat:
    """What a worker reports about one camera now and then."""

    camera_id: str
    status: str
    ts: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    fps: float | None = None
    frames_read: int | None = None
    frames_dropped: int | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def record_heartbeat(conn: psycopg.Connection, beat: Heartbeat) -> None:
    """Store a heartbeat and carry its status to the camera (unless it is disabled)."""
    if beat.status not in CAMERA_STATUSES:
        raise ValueError(f"heartbeat status={beat.status!r} not in {CAMERA_STATUSES}")
    with conn.transaction():
        conn.execute(
            "INSERT INTO camera_heartbeats (camera_id, ts, status, fps, frames_read,"
            " frames_dropped, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (camera_id, ts) DO UPDATE SET status = excluded.status,"
            " fps = excluded.fps, frames_read = excluded.frames_read,"
            " frames_dropped = excluded.frames_dropped, detail = excluded.detail",
            (beat.camera_id, beat.ts, beat.status, beat.fps, beat.frames_read,
             beat.frames_dropped, Jsonb(dict(beat.detail))))
        conn.execute("UPDATE cameras SET status = %s, updated_at = now()"
                     " WHERE id = %s AND status NOT IN (%s, 'disabled')",
                     (beat.status, beat.camera_id, beat.status))


def latest_heartbeats(conn: psycopg.Connection) -> dict[str, Heartbeat]:
    """The newest heartbeat of each camera."""
    rows = conn.execute(
        "SELECT DISTINCT ON (camera_id) camera_id, status, ts, fps, frames_read,"
        " frames_dropped, detail FROM camera_heartbeats ORDER BY camera_id, ts DESC")
    return {r[0]: Heartbeat(*r) for r in rows}
