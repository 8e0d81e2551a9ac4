"""Reading events back: replay by id, filtered pages, heatmap cells, ward series, camera status.

Every function takes a psycopg connection. Time bucketing uses ``date_bin``, which works
on plain PostgreSQL and on TimescaleDB alike, so one reader serves both layouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import psycopg
from psycopg import sql

from store.model import Evidence, GeoEvent, Severity

EVENT_COLUMNS = ("id", "ts", "camera_id", "kind", "severity", "lon", "lat", "ward_id",
                 "zone_id", "track_id", "value", "attributes", "evidence_path",
                 "evidence_sha256")
_SELECT = sql.SQL(", ").join(sql.Identifier("e", c) for c in EVENT_COLUMNS)
ROLLUP_BUCKET = timedelta(minutes=15)


def event_from_row(row: Sequence[Any]) -> GeoEvent:
    """A stored GeoEvent from a row of :data:`EVENT_COLUMNS`."""
    (id_, ts, camera_id, kind, severity, lon, lat, ward_id, zone_id, track_id, value,
     attributes, evidence_path, evidence_sha256) = row
    return GeoEvent(ts=ts, camera_id=camera_id, kind=kind, lon=lon, lat=lat,
                    severity=Severity(severity), ward_id=ward_id, zone_id=zone_id,
                    track_id=track_id, value=value, attributes=attributes or {},
                    evidence=None if evidence_path is None else
                    Evidence(evidence_path, evidence_sha256 or ""), id=id_)


def last_event_id(conn: psycopg.Connection) -> int:
    """The highest committed event id (0 when there are none)."""
    return conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]


def events_since(conn: psycopg.Connection, after_id: int, limit: int = 1000
                 ) -> list[GeoEvent]:
    """Events with id > ``after_id`` in id (= commit) order, at most ``limit``."""
    rows = conn.execute(sql.SQL("SELECT {} FROM events e WHERE e.id > %s ORDER BY e.id "
                                "LIMIT %s").format(_SELECT), (after_id, limit))
    return [event_from_row(r) for r in rows]


@dataclass(frozen=True)
class EventQuery:
    """Filters for :func:`find_events`; ``after`` is the cursor of the previous page."""

    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    ward_ids: Sequence[str] | None = None
    zone_ids: Sequence[str] | None = None
    kinds: Sequence[str] | None = None
    camera_ids: Sequence[str] | None = None
    min_severity: int | None = None
    alerts_only: bool = False
    limit: int = 100
    after: tuple[datetime, int] | None = None  # (ts, id) of the last event seen


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, and the cursor for the next (None at the end)."""

    events: list[GeoEvent]
    next: tuple[datetime, int] | None = field(default=None)


def find_events(conn: psycopg.Connection, q: EventQuery) -> EventPage:
    """Events matching ``q``, newest first, paged by keyset on (ts, id)."""
    where: list[sql.Composable] = []
    params: list[Any] = []

    def add(clause: str, *values: Any) -> None:
        where.append(sql.SQL(clause))
        params.extend(values)

    if q.start is not None:
        add("e.ts >= %s", q.start)
    if q.end is not None:
        add("e.ts < %s", q.end)
    if q.bbox is not None:
        w, s, e, n = q.bbox
        add("e.lon BETWEEN %s AND %s AND e.lat BETWEEN %s AND %s", w, e, s, n)
    for column, values in (("ward_id", q.ward_ids), ("zone_id", q.zone_ids),
                           ("kind", q.kinds), ("camera_id", q.camera_ids)):
        if values is not None:
            where.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier("e", column)))
            params.append(list(values))
    if q.min_severity is not None:
        add("e.severity >= %s", int(q.min_severity))
    if q.alerts_only:
        add("e.kind IN (SELECT code FROM event_kinds WHERE is_alert)")
    if q.after is not None:
        add("(e.ts, e.id) < (%s, %s)", *q.after)
    limit = max(1, min(int(q.limit), 10_000))
    query = sql.SQL("SELECT {} FROM events e {} ORDER BY e.ts DESC, e.id DESC LIMIT %s").format(
        _SELECT, sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""))
    events = [event_from_row(r) for r in conn.execute(query, (*params, limit + 1))]
    more = len(events) > limit
    events = events[:limit]
    return EventPage(events, (events[-1].ts, events[-1].id) if more else None)


@dataclass(frozen=True)
class HeatCell:
    """Events of one grid cell over a window: count, value sum and maximum."""

    cell_id: int
    n: int
    value_sum: float
    value_max: float | None


def _tail_from(conn: psycopg.Connection) -> int | None:
    """The rollup watermark when events above it may exist (else None: nothing to add).

    The last id handed out by ``events_id_seq`` bounds every committed id from above, and
    reading it costs no partition scan (``max(id) FROM events`` probed every partition or
    chunk: 7–50 ms per heatmap over 30 days). Ids allocated but not committed only make
    the tail query run and find nothing."""
    mark, top = conn.execute(
        "SELECT (SELECT last_event_id FROM rollup_state WHERE name = 'heatmap'),"
        " (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
        "  FROM events_id_seq)").fetchone()
    return mark if top is not None and top > mark else None


_ORIGIN = datetime(2000, 1, 1, tzinfo=timezone.utc)
_HOUR, _DAY = timedelta(hours=1), timedelta(days=1)
# The spans kept by vigil_refresh_heatmap (migrations/repeatable/events.sql), narrowest
# first: heatmap_cell_span (every kind, per ward and cell) and heatmap_kind_span (per
# kind, ward and cell). Narrower than these, heatmap_rollup's 15 minutes serve.
CELL_SPANS = (_HOUR, 4 * _HOUR, _DAY, 7 * _DAY)
KIND_SPANS = (4 * _HOUR, _DAY, 7 * _DAY)


def floor_bucket(t: datetime, step: timedelta) -> datetime:
    """``t`` rounded down to a bucket boundary (buckets of ``step`` from 2000-01-01 UTC)."""
    return t - (t - _ORIGIN) % step


def ceil_bucket(t: datetime, step: timedelta) -> datetime:
    """``t`` rounded up to a bucket boundary."""
    f = floor_bucket(t, step)
    return f if f == t else f + step


def rollup_segments(lo: datetime, hi: datetime, spans: Sequence[timedelta] = CELL_SPANS
                    ) -> list[tuple[timedelta, datetime, datetime]]:
    """Cover [lo, hi) (15-minute aligned) with the widest whole buckets of ``spans``
    that fit, narrower ones towards the edges, 15-minute ones last: (span, from, to)."""
    if lo >= hi:
        return []
    if not spans:
        return [(ROLLUP_BUCKET, lo, hi)]
    wide, narrower = spans[-1], spans[:-1]
    a, b = ceil_bucket(lo, wide), floor_bucket(hi, wide)
    if a >= b:
        return rollup_segments(lo, hi, narrower)
    return (rollup_segments(lo, a, narrower) + [(wide, a, b)]
            + rollup_segments(b, hi, narrower))


def heatmap_cells(conn: psycopg.Connection, start: datetime, end: datetime,
                  kinds: Sequence[str] | None = None,
                  ward_ids: Sequence[str] | None = None) -> list[HeatCell]:
    """Per-cell counts in [start, end) widened to whole 15-minute buckets.

    Read from the rollups, the widest whole buckets first (7 days down to 1 hour, 15
    minutes at the edges), by kind and ward where asked (the span tables keep both, so
    filters are index ranges), plus the events above the rollup watermark, counted
    straight from ``events`` (by id, so cheaply): the map is never stale.
    """
    lo = floor_bucket(start.astimezone(timezone.utc), ROLLUP_BUCKET)
    hi = ceil_bucket(end.astimezone(timezone.utc), ROLLUP_BUCKET)
    params: dict[str, Any] = {"kinds": None if kinds is None else list(kinds),
                              "wards": None if ward_ids is None else list(ward_ids),
                              "mark": _tail_from(conn), "lo": lo, "hi": hi}
    filters = ((" AND kind = ANY(%(kinds)s)" if kinds is not None else "")
               + (" AND ward_id = ANY(%(wards)s)" if ward_ids is not None else ""))
    table, spans = (("heatmap_cell_span", CELL_SPANS) if kinds is None
                    else ("heatmap_kind_span", KIND_SPANS))
    parts = []
    for i, (span, a, b) in enumerate(rollup_segments(lo, hi, spans)):
        params[f"s{i}"], params[f"a{i}"], params[f"b{i}"] = span, a, b
        source = ("heatmap_rollup WHERE" if span == ROLLUP_BUCKET
                  else f"{table} WHERE span = %(s{i})s AND")
        parts.append(f"SELECT cell_id, n, value_sum, value_max FROM {source}"
                     f" bucket >= %(a{i})s AND bucket < %(b{i})s" + filters)
    if params["mark"] is not None:
        parts.append("SELECT cell_id, count(*)::integer, coalesce(sum(value), 0), max(value)"
                     " FROM events WHERE id > %(mark)s AND ts >= %(lo)s AND ts < %(hi)s"
                     + filters + " GROUP BY cell_id")
    if not parts:
        return []
    # Serial: parallel workers start in tens of ms on a busy 2-core server, more than
    # they save on these ~10^4–10^5-row index-only scans (measured: 24 h heatmap
    # 48–77 ms parallel, 30–35 ms serial on TimescaleDB).
    with conn.transaction():
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        rows = conn.execute(
            "SELECT cell_id, sum(n), sum(value_sum), max(value_max) FROM ("
            + " UNION ALL ".join(parts) + ") p WHERE cell_id IS NOT NULL"
            " GROUP BY cell_id ORDER BY cell_id",
            params, prepare=False).fetchall()  # a custom plan: the id bound picks the PK
    return [HeatCell(int(c), int(n), float(s), m) for c, n, s, m in rows]


@dataclass(frozen=True)
class SeriesPoint:
    """Events of one ward in one time bucket."""

    bucket: datetime
    ward_id: str | None
    n: int
    value_sum: float
    value_max: float | None


# The spans of ward_kind_span (migration 0007), kept by vigil_refresh_heatmap: ward ×
# kind, no cell. A series of ``bucket`` reads whole buckets of the widest span that
# divides ``bucket``, narrower ones towards the window's edges.
SERIES_SPANS = (ROLLUP_BUCKET, _HOUR, _DAY)


def ward_kind_series(conn: psycopg.Connection, lo: datetime, hi: datetime,
                     bucket: timedelta, ward_ids: Sequence[str] | None = None,
                     kinds: Sequence[str] | None = None, by_kind: bool = True
                     ) -> list[tuple]:
    """Rows (bucket start, ward, [kind,] n, value sum, value max) per ``bucket`` of the
    events in [lo, hi) (15-minute aligned), ordered by ward, bucket[, kind].

    Read from ward_kind_span (whole buckets of the widest span dividing ``bucket``,
    narrower ones at the edges: one index range per piece when a ward is given) plus the
    events above the rollup watermark, counted straight from ``events``."""
    if bucket < ROLLUP_BUCKET or bucket % ROLLUP_BUCKET:
        raise ValueError(f"bucket={bucket}: must be a multiple of 15 minutes")
    spans = tuple(s for s in SERIES_SPANS[1:] if bucket % s == timedelta(0))
    params: dict[str, Any] = {"b": bucket, "lo": lo, "hi": hi, "mark": _tail_from(conn),
                              "kinds": None if kinds is None else list(kinds),
                              "wards": None if ward_ids is None else list(ward_ids)}
    filters = ((" AND kind = ANY(%(kinds)s)" if kinds is not None else "")
               + (" AND ward_id = ANY(%(wards)s)" if ward_ids is not None else ""))
    parts = []
    for i, (span, a, b) in enumerate(rollup_segments(lo, hi, spans)):
        params[f"s{i}"], params[f"a{i}"], params[f"b{i}"] = span, a, b
        parts.append("SELECT bucket AS t, ward_id, kind, n, value_sum, value_max"
                     f" FROM ward_kind_span WHERE span = %(s{i})s AND bucket >= %(a{i})s"
                     f" AND bucket < %(b{i})s" + filters)
    if params["mark"] is not None and parts:
        parts.append("SELECT ts, ward_id, kind, 1, coalesce(value, 0), value FROM events"
                     " WHERE id > %(mark)s AND ts >= %(lo)s AND ts < %(hi)s" + filters)
    if not parts:
        return []
    keys = "ward_id, kind" if by_kind else "ward_id"
    order = "ward_id, 1, kind" if by_kind else "ward_id, 1"
    return conn.execute(
        f"SELECT date_bin(%(b)s, t, '2000-01-01'), {keys}, sum(n)::bigint,"
        " sum(value_sum), max(value_max) FROM (" + " UNION ALL ".join(parts) + ") p"
        f" GROUP BY 1, {keys} ORDER BY {order}",
        params, prepare=False).fetchall()  # a custom plan: the id bound picks the PK


def ward_series(conn: psycopg.Connection, start: datetime, end: datetime,
                bucket: timedelta = timedelta(hours=1),
                ward_ids: Sequence[str] | None = None,
                kinds: Sequence[str] | None = None) -> list[SeriesPoint]:
    """Per-ward counts per ``bucket`` (a multiple of 15 minutes) over [start, end), the
    first bucket whole and the last one up to the 15-minute bucket holding ``end``."""
    if bucket < ROLLUP_BUCKET or bucket % ROLLUP_BUCKET:
        raise ValueError(f"bucket={bucket}: must be a multiple of 15 minutes")
    lo = floor_bucket(start.astimezone(timezone.utc), bucket)
    hi = ceil_bucket(end.astimezone(timezone.utc), ROLLUP_BUCKET)
    rows = ward_kind_series(conn, lo, hi, bucket, ward_ids, kinds, by_kind=False)
    return [SeriesPoint(b, w, int(n), float(s), m) for b, w, n, s, m in rows]


@dataclass(frozen=True)
class CameraStatus:
    """A camera's registry status with its latest heartbeat and latest event."""

    camera_id: str
    name: str
    status: str
    enabled: bool
    ward_id: str | None
    heartbeat_at: datetime | None
    heartbeat_status: str | None
    fps: float | None
    frames_dropped: int | None
    last_event_at: datetime | None


def camera_status(conn: psycopg.Connection, recent: timedelta = timedelta(hours=24)
                  ) -> list[CameraStatus]:
    """Every camera with its latest heartbeat and its latest event within ``recent``."""
    rows = conn.execute(
        "WITH recent AS (SELECT camera_id, max(ts) AS last_ts FROM events"
        "  WHERE ts > now() - %s GROUP BY camera_id)"
        " SELECT c.id, c.name, c.status, c.enabled, c.ward_id, h.ts, h.status, h.fps,"
        " h.frames_dropped, r.last_ts"
        " FROM cameras c LEFT JOIN recent r ON r.camera_id = c.id"
        " LEFT JOIN LATERAL (SELECT ts, status, fps, frames_dropped"
        "  FROM camera_heartbeats hb WHERE hb.camera_id = c.id ORDER BY ts DESC LIMIT 1) h"
        " ON true ORDER BY c.id", (recent,))
    return [CameraStatus(*r) for r in rows]


def refresh_heatmap(conn: psycopg.Connection) -> int:
    """Fold events committed since the watermark into the rollups; returns how many."""
    with conn.transaction():
        return int(conn.execute("SELECT vigil_refresh_heatmap()").fetchone()[0])
