"""Incidents: related alerts from cameras within R metres and T seconds merged into one.

:func:`merge_new` reads alert events past its watermark (``incident_state``) in id
(= commit) order and puts each into an open incident of the same kind group whose last
member is at most ``window_s`` older and whose position lies within ``radius_m``, or
starts a new one. It runs under an advisory lock, so concurrent callers never merge the
same event twice. Operators mark incidents true or false alarm (:func:`set_verdict`);
:func:`rule_precision` turns the verdicts into a precision per camera rule, so admins can
see which rules are noisy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

import psycopg

from store.audit import record
from store.model import EVENT_KINDS

MERGE_LOCK_KEY = 8_210_070
VERDICTS = ("true_alarm", "false_alarm")

#: Kinds that describe the same kind of situation (merged together).
KIND_GROUPS: dict[str, str] = {
    "intrusion": "intrusion", "loitering": "intrusion",
    "crowd_density": "crowd", "fight": "crowd",
    "abandoned_object": "left_object", "littering": "left_object",
    "face_match": "face_match", "plate_match": "plate_match",
    "red_light": "traffic", "wrong_way": "traffic", "wrong_lane": "traffic",
    "no_helmet": "traffic", "no_seatbelt": "traffic",
    "camera_offline": "camera", "camera_frozen": "camera", "camera_blackout": "camera",
    "camera_blur": "camera", "camera_scene_change": "camera",
}


def _group(event_kind: str) -> str:
    return KIND_GROUPS.get(event_kind, event_kind)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(min(1.0, a)))


@dataclass
class _Open:
    id: int
    group: str
    last_ts: datetime
    lon: float
    lat: float
    n: int


def merge_new(conn: psycopg.Connection, radius_m: float = 300.0, window_s: float = 300.0,
              batch: int = 5000) -> int:
    """Merge alert events committed since the last call; returns how many were merged."""
    alert_kinds = [k for k, spec in EVENT_KINDS.items() if spec.is_alert]
    window = timedelta(seconds=window_s)
    merged = 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK_KEY,))
        last = conn.execute("SELECT last_event_id FROM incident_state").fetchone()[0]
        # The newest committed id first, then the alerts up to it: each statement sees
        # its own snapshot, and a batch committed between the two must not move the
        # watermark past alerts this round did not read. (Ids are committed in order,
        # so every id up to ``newest`` is visible to the second statement.)
        newest = conn.execute("SELECT coalesce(max(id), %s) FROM events WHERE id > %s",
                              (last, last)).fetchone()[0]
        rows = conn.execute(
            "SELECT id, ts, camera_id, kind, severity, lon, lat, ward_id, "
            "attributes ->> 'rule' FROM events WHERE id > %s AND id <= %s "
            "AND kind = ANY(%s) ORDER BY id LIMIT %s",
            (last, newest, alert_kinds, batch)).fetchall()
        top = newest if len(rows) < batch else rows[-1][0]
        if rows:
            since = min(r[1] for r in rows) - window
            open_ = [_Open(*r) for r in conn.execute(
                "SELECT id, kind_group, last_ts, lon, lat, n FROM incidents "
                "WHERE last_ts >= %s AND verdict IS NULL", (since,))]
        for eid, ts, camera, kind, severity, lon, lat, ward, rule in rows:
            group = _group(kind)
            near = [o for o in open_ if o.group == group and abs(ts - o.last_ts) <= window
                    and distance_m(lon, lat, o.lon, o.lat) <= radius_m]
            if near:
                inc = min(near, key=lambda o: distance_m(lon, lat, o.lon, o.lat))
                inc.lon = (inc.lon * inc.n + lon) / (inc.n + 1)
                inc.lat = (inc.lat * inc.n + lat) / (inc.n + 1)
                inc.n += 1
                inc.last_ts = max(inc.last_ts, ts)
                conn.execute("UPDATE incidents SET n = %s, lon = %s, lat = %s, "
                             "last_ts = greatest(last_ts, %s), first_ts = least(first_ts, %s),"
                             " max_severity = greatest(max_severity, %s) WHERE id = %s",
                             (inc.n, inc.lon, inc.lat, ts, ts, severity, inc.id))
            else:
                iid = conn.execute(
                    "INSERT INTO incidents (kind_group, first_ts, last_ts, lon, lat, ward_id,"
                    " max_severity) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (group, ts, ts, lon, lat, ward, severity)).fetchone()[0]
                inc = _Open(iid, group, ts, lon, lat, 1)
                open_.append(inc)
            conn.execute("INSERT INTO incident_members (event_id, incident_id, ts, camera_id,"
                         " kind, rule) VALUES (%s, %s, %s, %s, %s, %s) "
                         "ON CONFLICT (event_id) DO NOTHING",
                         (eid, inc.id, ts, camera, kind, rule))
            merged += 1
        conn.execute("UPDATE incident_state SET last_event_id = %s, updated_at = now()",
                     (top,))
    return merged


def list_incidents(conn: psycopg.Connection, since: datetime, until: datetime,
                   ward_ids: Iterable[str] | None = None, limit: int = 200
                   ) -> list[dict[str, Any]]:
    """Incidents overlapping [since, until), newest first, with their member events."""
    where, params = ["last_ts >= %s", "first_ts < %s"], [since, until]
    if ward_ids is not None:
        where.append("ward_id = ANY(%s)")
        params.append(list(ward_ids))
    params.append(limit)
    rows = conn.execute(
        "SELECT i.id, i.kind_group, i.first_ts, i.last_ts, i.lon, i.lat, i.ward_id, i.n, "
        "i.max_severity, i.verdict, i.verdict_by, i.verdict_at, i.note, "
        "(SELECT json_agg(json_build_object('event_id', m.event_id, 'camera_id', "
        "m.camera_id, 'kind', m.kind, 'ts', m.ts, 'rule', m.rule) ORDER BY m.ts) "
        "FROM incident_members m WHERE m.incident_id = i.id) "
        f"FROM incidents i WHERE {' AND '.join(where)} ORDER BY i.last_ts DESC LIMIT %s",
        params)
    return [{"id": r[0], "kind_group": r[1], "first_ts": r[2].isoformat(),
             "last_ts": r[3].isoformat(), "lon": r[4], "lat": r[5], "ward_id": r[6],
             "n": r[7], "max_severity": r[8], "verdict": r[9], "verdict_by": r[10],
             "verdict_at": r[11] and r[11].isoformat(), "note": r[12],
             "members": r[13] or [],
             "cameras": sorted({m["camera_id"] for m in (r[13] or [])})} for r in rows]


def incident_ward(conn: psycopg.Connection, incident_id: int) -> tuple[bool, str | None]:
    """(exists, ward id) of an incident, for scope checks."""
    row = conn.execute("SELECT ward_id FROM incidents WHERE id = %s", (incident_id,)
                       ).fetchone()
    return (row is not None, row[0] if row else None)


def set_verdict(conn: psycopg.Connection, incident_id: int, verdict: str, actor: str,
                note: str | None = None, remote: str | None = None) -> None:
    """Mark an incident a true or false alarm (may be changed; the last word counts)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict={verdict!r}: must be one of {', '.join(VERDICTS)}")
    with conn.transaction():
        row = conn.execute("UPDATE incidents SET verdict = %s, verdict_by = %s, "
                           "verdict_at = now(), note = %s WHERE id = %s RETURNING id",
                           (verdict, actor, note, incident_id)).fetchone()
        if row is None:
            raise LookupError(f"incident {incident_id} not found")
        record(conn, actor, "incident.verdict", f"incident:{incident_id}", remote=remote,
               detail={"verdict": verdict})


def rule_precision(conn: psycopg.Connection, since: datetime | None = None
                   ) -> list[dict[str, Any]]:
    """Per camera rule and kind: events in judged incidents, true alarms, precision."""
    rows = conn.execute(
        "SELECT m.camera_id, coalesce(m.rule, ''), m.kind, count(*), "
        "count(*) FILTER (WHERE i.verdict = 'true_alarm') FROM incident_members m "
        "JOIN incidents i ON i.id = m.incident_id WHERE i.verdict IS NOT NULL "
        "AND (%s::timestamptz IS NULL OR m.ts >= %s) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        (since, since)).fetchall()
    return [{"camera_id": r[0], "rule": r[1] or None, "kind": r[2], "judged": r[3],
             "true_alarms": r[4], "precision": round(r[4] / r[3], 3)} for r in rows]
