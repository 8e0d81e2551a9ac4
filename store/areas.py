"""Wards and zones in the database: atomic replacement, camera re-tagging, the area index.

``replace_wards`` / ``replace_zones`` take the GeoDataFrames of :mod:`gis.boundaries`
(shipped or imported), check every row first, then replace in ONE transaction: delete the
old rows of that scope, insert the new, recompute zones' ``ward_id``, re-tag every
camera's ``ward_id``/``zone_ids`` and bump ``area_version`` so that event writers reload
their :class:`gis.tagging.AreaIndex` (future events are tagged with the new areas; stored
events keep the tags they were written with). If anything fails, nothing is written.
"""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import numpy as np
import psycopg
import shapely
from psycopg.types.json import Jsonb

from gis.boundaries import ZONE_KINDS, slug
from gis.tagging import AreaIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplaceResult:
    """What a replacement did."""

    deleted: int
    inserted: int
    cameras_retagged: int
    area_version: int


def _geometry_json(geom) -> dict:
    if geom is None or geom.is_empty:
        raise ValueError("empty geometry")
    if not geom.is_valid:
        raise ValueError(f"invalid geometry ({shapely.is_valid_reason(geom)})")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"{geom.geom_type} is not an area")
    return shapely.geometry.mapping(geom)


def _rows(gdf, kind: str, province: str | None) -> list[dict[str, Any]]:
    """Check every row before anything is written; ValueError naming the first bad one."""
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    rows, seen = [], set()
    for i, rec in enumerate(gdf.itertuples(index=False)):
        r = rec._asdict()
        ident, name = str(r.get("id") or "").strip(), str(r.get("name") or "").strip()
        label = f"{kind[:-1]} #{i} ({ident or name or '?'})"
        if not ident or not name:
            raise ValueError(f"{label}: id and name must not be empty")
        if ident in seen:
            raise ValueError(f"{label}: duplicate id")
        seen.add(ident)
        try:
            geometry = _geometry_json(r.get("geometry"))
        except ValueError as exc:
            raise ValueError(f"{label}: {exc}") from None
        props = dict(r.get("properties") or {})
        row = {"id": ident, "name": name, "geometry": geometry,
               "approximate": bool(r.get("approximate", False)), "properties": props}
        if kind == "wards":
            prov = province or r.get("province")
            if province and r.get("province") not in (None, province):
                raise ValueError(f"{label}: province {r.get('province')!r} is not {province!r}")
            row["province"] = prov
            if "central" in r:
                props["central"] = bool(r["central"])
        else:
            if r.get("kind") not in ZONE_KINDS:
                raise ValueError(f"{label}: kind {r.get('kind')!r} not in {ZONE_KINDS}")
            row["kind"] = r["kind"]
            row["ward_id"] = r.get("ward_id") or None
            if province:
                props["province"] = province
        rows.append(row)
    if not rows:
        raise ValueError(f"no {kind} to write")
    return rows


def _bump_version(conn: psycopg.Connection) -> int:
    return conn.execute("UPDATE area_version SET version = version + 1, updated_at = now() "
                        "RETURNING version").fetchone()[0]


def replace_wards(conn: psycopg.Connection, wards, province: str | None = None
                  ) -> ReplaceResult:
    """Replace the wards of ``province`` (all wards if None) with ``wards``, atomically."""
    rows = _rows(wards, "wards", province)
    with conn.transaction():
        if province is None:
            deleted = conn.execute("DELETE FROM wards").rowcount
        else:
            deleted = conn.execute("DELETE FROM wards WHERE province = %s", (province,)).rowcount
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO wards (id, name, province, geometry, approximate, properties) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(r["id"], r["name"], r["province"], Jsonb(r["geometry"]), r["approximate"],
                  Jsonb(r["properties"])) for r in rows])
        result = _after_change(conn, deleted, len(rows))
    log.info("replaced %d wards (province %s) with %d", deleted, province or "all", len(rows))
    return result


def replace_zones(conn: psycopg.Connection, zones, province: str | None = None,
                  keep_geofences: bool = True) -> ReplaceResult:
    """Replace the zones of ``province`` (all if None) with ``zones``, atomically.

    Geofences drawn by operators (kind ``geofence``) are kept unless ``keep_geofences``
    is False or the new layer brings a zone with the same id.
    """
    rows = _rows(zones, "zones", province)
    with conn.transaction():
        deleted = conn.execute(
            "DELETE FROM zones WHERE (NOT %s OR kind <> 'geofence') AND (%s::text IS NULL "
            "OR properties->>'province' = %s OR ward_id IN "
            "(SELECT id FROM wards WHERE province = %s))",
            (keep_geofences, province, province, province)).rowcount
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO zones (id, name, kind, ward_id, geometry, approximate, properties) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "name = EXCLUDED.name, kind = EXCLUDED.kind, ward_id = EXCLUDED.ward_id, "
                "geometry = EXCLUDED.geometry, approximate = EXCLUDED.approximate, "
                "properties = EXCLUDED.properties",
                [(r["id"], r["name"], r["kind"], r["ward_id"], Jsonb(r["geometry"]),
                  r["approximate"], Jsonb(r["properties"])) for r in rows])
        result = _after_change(conn, deleted, len(rows))
    log.info("replaced %d zones (province %s) with %d", deleted, province or "all", len(rows))
    return result


def _after_change(conn: psycopg.Connection, deleted: int, inserted: int) -> ReplaceResult:
    """Inside the replacing transaction: zones' wards, cameras' tags, the version."""
    index = load_area_index(conn)
    _retag_zone_wards(conn, index)
    n = retag_cameras(conn, index)
    return ReplaceResult(deleted, inserted, n, _bump_version(conn))


def _retag_zone_wards(conn: psycopg.Connection, index: AreaIndex) -> None:
    rows = conn.execute("SELECT id, geometry FROM zones").fetchall()
    if not rows:
        return
    pts = [shapely.geometry.shape(g).representative_point() for _, g in rows]
    wards, _ = index.tag(np.array([p.x for p in pts]), np.array([p.y for p in pts]))
    conn.execute(
        "UPDATE zones z SET ward_id = v.ward_id FROM jsonb_to_recordset(%s) "
        "AS v(id text, ward_id text) WHERE z.id = v.id "
        "AND z.ward_id IS DISTINCT FROM v.ward_id",
        (Jsonb([{"id": i, "ward_id": w} for (i, _), w in zip(rows, wards.tolist())]),))


def retag_cameras(conn: psycopg.Connection, index: AreaIndex | None = None) -> int:
    """Recompute every camera's ward_id and zone_ids; returns how many changed."""
    index = index or load_area_index(conn)
    rows = conn.execute("SELECT id, lon, lat FROM cameras ORDER BY id").fetchall()
    if not rows:
        return 0
    lon = np.array([r[1] for r in rows], dtype=float)
    lat = np.array([r[2] for r in rows], dtype=float)
    wards, _ = index.tag(lon, lat)
    zones = index.zones_of(lon, lat)
    payload = [{"id": r[0], "ward_id": w, "zone_ids": z}
               for r, w, z in zip(rows, wards.tolist(), zones)]
    cur = conn.execute(
        "UPDATE cameras c SET ward_id = v.ward_id, zone_ids = v.zone_ids, updated_at = now() "
        "FROM jsonb_to_recordset(%s) AS v(id text, ward_id text, zone_ids text[]) "
        "WHERE c.id = v.id AND (c.ward_id IS DISTINCT FROM v.ward_id "
        "OR c.zone_ids IS DISTINCT FROM v.zone_ids)", (Jsonb(payload),))
    return cur.rowcount


def area_version(conn: psycopg.Connection) -> int:
    """The counter bumped by every replacement (writers reload their index when it moves)."""
    return conn.execute("SELECT version FROM area_version").fetchone()[0]


def load_area_index(conn: psycopg.Connection) -> AreaIndex:
    """An AreaIndex of all wards (ordered by id) and zones in the database."""
    wards = conn.execute("SELECT id, geometry FROM wards ORDER BY id").fetchall()
    zones = conn.execute("SELECT id, geometry FROM zones ORDER BY id").fetchall()
    return AreaIndex({i: shapely.geometry.shape(g) for i, g in wards},
                     {i: shapely.geometry.shape(g) for i, g in zones})


#: Known wards listed when an unknown one has no close match.
WARDS_LISTED = 30


def unknown_wards(conn: psycopg.Connection, ward_ids: Sequence[str]) -> str | None:
    """None when every id in ``ward_ids`` is a stored ward; else a message naming each
    unknown id with its close matches (by id or by name), or the known wards."""
    known = dict(conn.execute("SELECT id, name FROM wards ORDER BY id").fetchall())
    missing = [w for w in dict.fromkeys(ward_ids) if w not in known]
    if not missing:
        return None
    if not known:
        return (f"unknown ward {', '.join(map(repr, missing))}: no wards are loaded yet "
                "(vigil gis load-shipped PROVINCE, or vigil gis import wards FILE)")
    by_slug = {}
    for ident, name in known.items():
        by_slug.setdefault(slug(name), ident)
        by_slug.setdefault(ident, ident)
        by_slug.setdefault(ident.split("-", 1)[-1], ident)
    parts, unmatched = [], False
    for ward in missing:
        close = difflib.get_close_matches(slug(ward) or ward.lower(), list(by_slug), n=6,
                                          cutoff=0.6)
        ids = list(dict.fromkeys(by_slug[c] for c in close))[:3]
        unmatched |= not ids
        guess = " or ".join(f"{i} ({known[i]})" for i in ids)
        parts.append(f"{ward!r}" + (f" (did you mean {guess}?)" if ids else ""))
    message = f"unknown ward {'; '.join(parts)}"
    if unmatched:
        listed = [f"{i} ({n})" for i, n in list(known.items())[:WARDS_LISTED]]
        more = len(known) - len(listed)
        message += "; known wards: " + ", ".join(listed) + (f", … {more} more" if more else "")
    return message


def _collection(rows, extra: Sequence[str]) -> dict:
    features = []
    for row in rows:
        ident, name, geometry, approximate, props, *rest = row
        properties = {**(props or {}), "id": ident, "name": name, "approximate": approximate,
                      **dict(zip(extra, rest))}
        features.append({"type": "Feature", "id": ident, "geometry": geometry,
                         "properties": properties})
    return {"type": "FeatureCollection", "features": features}


def wards_geojson(conn: psycopg.Connection, province: str | None = None) -> dict:
    """Wards as a GeoJSON FeatureCollection (optionally one province)."""
    rows = conn.execute(
        "SELECT id, name, geometry, approximate, properties, province FROM wards "
        "WHERE %s::text IS NULL OR province = %s ORDER BY id", (province, province)).fetchall()
    return _collection(rows, ("province",))


def zones_geojson(conn: psycopg.Connection, kinds: Sequence[str] = ()) -> dict:
    """Zones as a GeoJSON FeatureCollection (optionally only some kinds)."""
    rows = conn.execute(
        "SELECT id, name, geometry, approximate, properties, kind, ward_id FROM zones "
        "WHERE cardinality(%s::text[]) = 0 OR kind = ANY(%s) ORDER BY id",
        (list(kinds), list(kinds))).fetchall()
    return _collection(rows, ("kind", "ward_id"))


# -- readers for hotspot reports ------------------------------------------------------------

def incident_points(conn: psycopg.Connection, since: datetime, until: datetime,
                    kinds: Sequence[str] = (), ward_id: str | None = None,
                    alerts_only: bool = True) -> dict[str, np.ndarray]:
    """Events in [since, until) as numpy columns: ts (UTC datetime64), lon, lat, kind,
    ward_id, cell_id, camera_id. ``alerts_only`` keeps alert kinds (incidents), not samples.
    """
    rows = conn.execute(
        "SELECT e.ts, e.lon, e.lat, e.kind, e.ward_id, e.cell_id, e.camera_id FROM events e "
        "JOIN event_kinds k ON k.code = e.kind WHERE e.ts >= %s AND e.ts < %s "
        "AND (cardinality(%s::text[]) = 0 OR e.kind = ANY(%s)) "
        "AND (%s::text IS NULL OR e.ward_id = %s) AND (NOT %s OR k.is_alert) ORDER BY e.ts",
        (since, until, list(kinds), list(kinds), ward_id, ward_id, alerts_only)).fetchall()
    cols = list(zip(*rows)) if rows else [[]] * 7
    return {
        "ts": np.array([t.replace(tzinfo=None) for t in cols[0]], dtype="datetime64[s]"),
        "lon": np.array(cols[1], dtype=float), "lat": np.array(cols[2], dtype=float),
        "kind": np.array(cols[3], dtype=object), "ward_id": np.array(cols[4], dtype=object),
        "cell_id": np.array([c if c is not None else -1 for c in cols[5]], dtype=np.int64),
        "camera_id": np.array(cols[6], dtype=object),
    }


def camera_records(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every camera with what coverage needs (position, view, homography, status)."""
    rows = conn.execute(
        "SELECT id, name, kind, lon, lat, heading_deg, fov_deg, range_m, status, ward_id, "
        "zone_ids, homography, enabled FROM cameras ORDER BY id").fetchall()
    keys = ("id", "name", "kind", "lon", "lat", "heading_deg", "fov_deg", "range_m", "status",
            "ward_id", "zone_ids", "homography", "enabled")
    return [dict(zip(keys, r)) for r in rows]


def watched_hours(conn: psycopg.Connection, since: datetime, until: datetime,
                  gap_s: float = 300.0) -> dict[str, float]:
    """Hours each camera was online in [since, until), from its heartbeats.

    A heartbeat with status 'online' counts until the next heartbeat, at most ``gap_s``
    later (a camera that stops reporting stops counting).
    """
    rows = conn.execute(
        "SELECT camera_id, sum(LEAST(EXTRACT(EPOCH FROM (nxt - ts)), %s)) / 3600.0 FROM ("
        " SELECT camera_id, ts, status, lead(ts, 1, LEAST(ts + make_interval(secs => %s), %s))"
        " OVER (PARTITION BY camera_id ORDER BY ts) AS nxt FROM camera_heartbeats"
        " WHERE ts >= %s AND ts < %s) h WHERE status = 'online' GROUP BY camera_id",
        (gap_s, gap_s, until, since, until)).fetchall()
    return {cam: float(h) for cam, h in rows}


def dumps(doc: dict) -> str:
    """Compact JSON text of a FeatureCollection (Vietnamese kept readable)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
