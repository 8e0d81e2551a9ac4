"""Reads the map application needs beyond ``store.readers``: cameras and areas as
GeoJSON, crowd samples, ward counts and series, and event pages joined
with their alert state (keyset on id, the API's ``before`` cursor).

Every function takes a psycopg connection and returns plain JSON-ready values or
GeoEvents; ward scope is a ``wards`` argument (None = every ward) applied in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import psycopg
from psycopg import sql

from store.model import EVENT_KINDS, GeoEvent
from store.readers import (KIND_SPANS, ROLLUP_BUCKET, ceil_bucket, event_from_row,
                           rollup_segments, ward_kind_series)

EVENT_COLUMNS = ("id, ts, camera_id, kind, severity, lon, lat, ward_id, zone_id, track_id, "
                 "value, attributes, evidence_path, evidence_sha256")
_SERIES_BUCKETS = {"15min": ROLLUP_BUCKET, "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _scope(column: str, wards: frozenset[str] | None) -> tuple[sql.Composable, list[Any]]:
    if wards is None:
        return sql.SQL("true"), []
    return sql.SQL("{} = ANY(%s)").format(sql.Identifier(*column.split("."))), [sorted(wards)]


# -- cameras ------------------------------------------------------------------------------

_CAMERA_COLUMNS = ("id", "name", "kind", "lon", "lat", "heading_deg", "fov_deg", "range_m",
                   "status", "ward_id", "zone_ids", "enabled", "updated_at")


def _camera_feature(row: Sequence[Any]) -> dict[str, Any]:
    props = dict(zip(_CAMERA_COLUMNS, row))
    lon, lat = props.pop("lon"), props.pop("lat")
    props["updated_at"] = props["updated_at"].isoformat()
    props["zone_ids"] = list(props["zone_ids"] or [])
    return {"type": "Feature", "id": props["id"],
            "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def camera_features(conn: psycopg.Connection, wards: frozenset[str] | None = None, *,
                    ward: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Cameras as GeoJSON point features (no stream URLs: they carry credentials)."""
    where, params = _scope("ward_id", wards)
    query = sql.SQL("SELECT {} FROM cameras WHERE {} AND (%s::text IS NULL OR ward_id = %s) "
                    "AND (%s::text IS NULL OR status = %s) ORDER BY id").format(
        sql.SQL(", ").join(map(sql.Identifier, _CAMERA_COLUMNS)), where)
    rows = conn.execute(query, [*params, ward, ward, status, status]).fetchall()
    return [_camera_feature(r) for r in rows]


def camera_feature(conn: psycopg.Connection, camera_id: str) -> dict[str, Any] | None:
    """One camera as a GeoJSON feature, or None."""
    query = sql.SQL("SELECT {} FROM cameras WHERE id = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, _CAMERA_COLUMNS)))
    row = conn.execute(query, (camera_id,)).fetchone()
    return None if row is None else _camera_feature(row)


def latest_evidence(conn: psycopg.Connection, camera_id: str) -> GeoEvent | None:
    """The camera's most recent event with an evidence image (last 30 days)."""
    row = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE camera_id = %s AND evidence_path IS NOT NULL "
        "AND ts > now() - interval '30 days' ORDER BY ts DESC, id DESC LIMIT 1",
        (camera_id,)).fetchone()
    return None if row is None else event_from_row(row)


# -- events -------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventFilter:
    """What ``GET /api/v1/events`` asks for; ``wards`` is the user's scope."""

    since: datetime
    until: datetime
    wards: frozenset[str] | None = None
    ward_ids: Sequence[str] = ()
    zone_ids: Sequence[str] = ()
    camera_ids: Sequence[str] = ()
    kinds: Sequence[str] = ()
    severity_min: int | None = None
    alerts_only: bool = False
    statuses: Sequence[str] = ()
    before_id: int | None = None
    limit: int = 200


def _event_where(f: EventFilter) -> tuple[sql.Composable, list[Any]]:
    """The filter as a WHERE clause over ``events e LEFT JOIN alert_state a``."""
    where = [sql.SQL("e.ts >= %s AND e.ts < %s")]
    params: list[Any] = [f.since, f.until]
    scope, scope_params = _scope("e.ward_id", f.wards)
    where.append(scope)
    params += scope_params
    for column, values in (("ward_id", f.ward_ids), ("zone_id", f.zone_ids),
                           ("camera_id", f.camera_ids), ("kind", f.kinds)):
        if values:
            where.append(sql.SQL("e.{} = ANY(%s)").format(sql.Identifier(column)))
            params.append(list(values))
    if f.alerts_only:
        where.append(sql.SQL("e.kind = ANY(%s)"))
        params.append([k for k, spec in EVENT_KINDS.items() if spec.is_alert])
    if f.severity_min is not None:
        where.append(sql.SQL("e.severity >= %s"))
        params.append(f.severity_min)
    if f.statuses:
        where.append(sql.SQL("coalesce(a.status, 'new') = ANY(%s)"))
        params.append(list(f.statuses))
    if f.before_id is not None:
        where.append(sql.SQL("e.id < %s"))
        params.append(f.before_id)
    return sql.SQL(" AND ").join(where), params


def event_count(conn: psycopg.Connection, f: EventFilter) -> int:
    """How many events match the filter (``limit`` and ``before_id`` aside)."""
    where, params = _event_where(replace(f, before_id=None))
    query = sql.SQL("SELECT count(*) FROM events e LEFT JOIN alert_state a "
                    "ON a.event_id = e.id WHERE {}").format(where)
    return int(conn.execute(query, params).fetchone()[0])


def event_page(conn: psycopg.Connection, f: EventFilter) -> list[tuple[GeoEvent, dict | None]]:
    """Events newest first (by id), at most ``limit``, with their alert state if any."""
    where, params = _event_where(f)
    columns = sql.SQL(", ").join(sql.SQL("e.") + sql.Identifier(c.strip())
                                 for c in EVENT_COLUMNS.split(","))
    query = sql.SQL(
        "SELECT {}, a.status, a.assignee, a.updated_by, a.updated_at, a.note "
        "FROM events e LEFT JOIN alert_state a ON a.event_id = e.id WHERE {} "
        "ORDER BY e.id DESC LIMIT %s").format(columns, where)
    params.append(f.limit)
    out = []
    for row in conn.execute(query, params).fetchall():
        event = event_from_row(row[:14])
        state = None
        if event.spec.is_alert:
            status, assignee, by, at, note = row[14:]
            state = {"event_id": event.id, "status": status or "new", "assignee": assignee,
                     "updated_by": by, "updated_at": at.isoformat() if at else None,
                     "note": note, "ward_id": event.ward_id}
        out.append((event, state))
    return out


def event_by_id(conn: psycopg.Connection, event_id: int) -> GeoEvent | None:
    """One stored event, or None."""
    row = conn.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s LIMIT 1",
                       (event_id,)).fetchone()
    return None if row is None else event_from_row(row)


# -- areas ----------------------------------------------------------------------------------

def area_features(conn: psycopg.Connection, table: str, *,
                  kinds: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Wards or zones as GeoJSON features."""
    if table not in ("wards", "zones"):
        raise ValueError(f"table={table!r}: expected wards or zones")
    extra = sql.SQL(", province") if table == "wards" else sql.SQL(", kind, ward_id")
    where = sql.SQL("kind = ANY(%s)") if kinds and table == "zones" else sql.SQL("true")
    rows = conn.execute(sql.SQL(
        "SELECT id, name, geometry, approximate, properties{} FROM {} WHERE {} ORDER BY id"
    ).format(extra, sql.Identifier(table), where), [list(kinds)] if kinds else []).fetchall()
    features = []
    for row in rows:
        props = {**(row[4] or {}), "id": row[0], "name": row[1], "approximate": row[3]}
        if table == "wards":
            props["province"] = row[5]
        else:
            props["kind"], props["ward_id"] = row[5], row[6]
        features.append({"type": "Feature", "id": row[0], "geometry": row[2],
                         "properties": props})
    return features


def ward_exists(conn: psycopg.Connection, ward_id: str) -> bool:
    """Whether ``ward_id`` is a known ward."""
    return conn.execute("SELECT 1 FROM wards WHERE id = %s", (ward_id,)).fetchone() is not None


def ward_counts(conn: psycopg.Connection, since: datetime, until: datetime,
                wards: frozenset[str] | None, ward_ids: Sequence[str] = ()) -> list[dict]:
    """Event counts per ward and kind from the rollups whose buckets start in
    [since, until): the widest whole span buckets that fit, 15-minute ones at the edges."""
    scope, scope_params = _scope("ward_id", wards)
    wanted = sql.SQL("(cardinality(%s::text[]) = 0 OR ward_id = ANY(%s))")
    parts, params = [], []
    lo, hi = (ceil_bucket(t.astimezone(timezone.utc), ROLLUP_BUCKET) for t in (since, until))
    for span, a, b in rollup_segments(lo, hi, KIND_SPANS):
        source = sql.SQL("heatmap_rollup WHERE") if span == ROLLUP_BUCKET else \
            sql.SQL("heatmap_kind_span WHERE span = %s AND")
        parts.append(sql.SQL("SELECT ward_id, kind, n FROM {} bucket >= %s AND bucket < %s"
                             " AND {} AND {}").format(source, scope, wanted))
        params += ([] if span == ROLLUP_BUCKET else [span]) + [a, b, *scope_params,
                                                              list(ward_ids), list(ward_ids)]
    if not parts:
        return []
    query = sql.SQL("SELECT ward_id, kind, sum(n)::bigint FROM ({}) p GROUP BY 1, 2"
                    " ORDER BY 1, 2").format(sql.SQL(" UNION ALL ").join(parts))
    rows = conn.execute(query, params)
    return [{"ward_id": w, "kind": k, "n": n} for w, k, n in rows.fetchall()]


def ward_series(conn: psycopg.Connection, ward_id: str, since: datetime, until: datetime,
                bucket: str, kinds: Sequence[str] = ()) -> list[dict]:
    """A ward's counts per time bucket and kind, of the 15-minute rollup buckets that
    start in [since, until) (ward_kind_span's whole buckets, 15-minute ones at the edges,
    plus the events not yet rolled up)."""
    if bucket not in _SERIES_BUCKETS:
        raise ValueError(f"bucket={bucket!r}: expected one of {', '.join(_SERIES_BUCKETS)}")
    lo, hi = (ceil_bucket(t.astimezone(timezone.utc), ROLLUP_BUCKET) for t in (since, until))
    rows = ward_kind_series(conn, lo, hi, _SERIES_BUCKETS[bucket], [ward_id],
                            list(kinds) or None)
    return [{"t": t.isoformat(), "kind": k, "n": n} for t, _, k, n, _, _ in rows]


def crowd_samples(conn: psycopg.Connection, minutes: int,
                  wards: frozenset[str] | None) -> list[dict[str, Any]]:
    """The latest crowd_sample of each camera within the last ``minutes``."""
    scope, params = _scope("ward_id", wards)
    query = sql.SQL(
        "SELECT DISTINCT ON (camera_id) camera_id, lon, lat, value, ts, ward_id FROM events "
        "WHERE kind = 'crowd_sample' AND ts > now() - make_interval(mins => %s) AND {} "
        "ORDER BY camera_id, ts DESC").format(scope)
    return [{"camera_id": c, "lon": lon, "lat": lat, "value": v, "ts": ts.isoformat(),
             "ward_id": w} for c, lon, lat, v, ts, w in conn.execute(query, [minutes, *params])]
