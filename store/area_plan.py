"""What replacing wards or zones would change, worked out before anything is written.

:func:`plan_wards` / :func:`plan_zones` compare a new layer (the frames of
:mod:`gis.boundaries`) with the areas of the same scope in the database (what
:func:`store.areas.replace_wards` / ``replace_zones`` would delete): areas added, removed,
re-drawn or renamed; the cameras whose ward (zones: zone list) would change when they are
re-tagged from their positions; and how many stored events carry a removed or re-drawn
area. Events are history: a replacement never rewrites them, so those keep their tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import shapely
from psycopg import sql
from shapely.geometry.base import BaseGeometry

from gis.boundaries import slug
from gis.tagging import AreaIndex

#: Boundaries closer than this (degrees, ≈ 1 cm) everywhere count as the same boundary.
SAME_BOUNDARY_DEG = 1e-7


@dataclass(frozen=True)
class Area:
    """A ward or zone by id and name."""

    id: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


@dataclass(frozen=True)
class CameraMove:
    """A camera whose ward (or zones) would change: ids before and after, with names."""

    id: str
    name: str
    before: tuple[Area, ...]
    after: tuple[Area, ...]

    @property
    def loses(self) -> bool:
        """True when it would be left outside areas it is in now."""
        return bool({a.id for a in self.before} - {a.id for a in self.after})


@dataclass(frozen=True)
class AreaPlan:
    """The effect of replacing the ``kind`` ('wards' or 'zones') of one scope."""

    kind: str
    added: tuple[Area, ...]
    removed: tuple[Area, ...]
    redrawn: tuple[Area, ...]
    renamed: tuple[tuple[str, Area], ...]  # (old name, area with its new name)
    unchanged: int
    cameras: tuple[CameraMove, ...]
    events_keeping_tags: int


def _same_boundary(a: BaseGeometry, b: BaseGeometry) -> bool:
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b),
                                     tolerance=SAME_BOUNDARY_DEG) or a.equals(b))


def _layer_rows(gdf) -> dict[str, tuple[str, BaseGeometry]]:  # noqa: ANN001 - GeoDataFrame
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    return {str(i): (str(n), g) for i, n, g in zip(gdf["id"], gdf["name"], gdf.geometry)}


def _compare(old: dict[str, tuple[str, BaseGeometry]], new: dict[str, tuple[str, BaseGeometry]]
             ) -> dict[str, Any]:
    added = tuple(Area(i, new[i][0]) for i in sorted(new.keys() - old.keys()))
    removed = tuple(Area(i, old[i][0]) for i in sorted(old.keys() - new.keys()))
    redrawn, renamed, unchanged = [], [], 0
    for i in sorted(old.keys() & new.keys()):
        (old_name, old_geom), (name, geom) = old[i], new[i]
        same = _same_boundary(old_geom, geom)
        if not same:
            redrawn.append(Area(i, name))
        if old_name != name:
            renamed.append((old_name, Area(i, name)))
        unchanged += same and old_name == name
    return {"added": added, "removed": removed, "redrawn": tuple(redrawn),
            "renamed": tuple(renamed), "unchanged": unchanged}


def _camera_moves(conn: psycopg.Connection, column: str, index: AreaIndex,
                  names: dict[str, str]) -> tuple[CameraMove, ...]:
    rows = conn.execute(sql.SQL("SELECT id, name, lon, lat, {} FROM cameras ORDER BY id")
                        .format(sql.Identifier(column))).fetchall()
    if not rows:
        return ()
    lon = np.array([r[2] for r in rows], dtype=float)
    lat = np.array([r[3] for r in rows], dtype=float)
    if column == "ward_id":
        after = [[w] if w else [] for w in index.tag(lon, lat)[0].tolist()]
        before = [[r[4]] if r[4] else [] for r in rows]
    else:
        after = index.zones_of(lon, lat)
        before = [list(r[4] or []) for r in rows]
    area = lambda i: Area(i, names.get(i, i))  # noqa: E731
    return tuple(CameraMove(r[0], r[1], tuple(map(area, b)), tuple(map(area, a)))
                 for r, b, a in zip(rows, before, after) if sorted(b) != sorted(a))


def _tagged_events(conn: psycopg.Connection, column: str, ids: list[str]) -> int:
    if not ids:
        return 0
    return conn.execute(sql.SQL("SELECT count(*) FROM events WHERE {} = ANY(%s)")
                        .format(sql.Identifier(column)), (ids,)).fetchone()[0]


def _stored(conn: psycopg.Connection, query: str, params: tuple = ()
            ) -> dict[str, tuple[str, BaseGeometry]]:
    return {i: (n, shapely.geometry.shape(g)) for i, n, g in conn.execute(query, params)}


def plan_wards(conn: psycopg.Connection, wards, province: str | None = None  # noqa: ANN001
               ) -> AreaPlan:
    """What :func:`store.areas.replace_wards` with the same arguments would change."""
    new = _layer_rows(wards)
    old = _stored(conn, "SELECT id, name, geometry FROM wards WHERE %s::text IS NULL "
                        "OR province = %s", (province, province))
    others = _stored(conn, "SELECT id, name, geometry FROM wards WHERE id <> ALL(%s)",
                     (list(old),))
    after = {**{i: v for i, v in others.items() if i not in new}, **new}
    index = AreaIndex({i: after[i][1] for i in sorted(after)})
    names = {i: n for i, (n, _) in {**old, **others, **new}.items()}
    diff = _compare(old, new)
    stale = [a.id for a in diff["removed"] + diff["redrawn"]]
    return AreaPlan("wards", **diff, cameras=_camera_moves(conn, "ward_id", index, names),
                    events_keeping_tags=_tagged_events(conn, "ward_id", stale))


def plan_zones(conn: psycopg.Connection, zones, province: str | None = None,  # noqa: ANN001
               keep_geofences: bool = True) -> AreaPlan:
    """What :func:`store.areas.replace_zones` with the same arguments would change."""
    new = _layer_rows(zones)
    old = _stored(conn, "SELECT id, name, geometry FROM zones WHERE (NOT %s OR kind <> "
                        "'geofence' OR id = ANY(%s)) AND (%s::text IS NULL OR "
                        "properties->>'province' = %s OR ward_id IN "
                        "(SELECT id FROM wards WHERE province = %s))",
                  (keep_geofences, list(new), province, province, province))
    others = _stored(conn, "SELECT id, name, geometry FROM zones WHERE id <> ALL(%s)",
                     (list(old) + list(new),))
    index = AreaIndex(zones={**{i: g for i, (_, g) in others.items()},
                             **{i: g for i, (_, g) in new.items()}})
    names = {i: n for i, (n, _) in {**old, **others, **new}.items()}
    diff = _compare(old, new)
    stale = [a.id for a in diff["removed"] + diff["redrawn"]]
    return AreaPlan("zones", **diff, cameras=_camera_moves(conn, "zone_ids", index, names),
                    events_keeping_tags=_tagged_events(conn, "zone_id", stale))


def adopt_stored_ids(conn: psycopg.Connection, layer, kind: str,  # noqa: ANN001
                     province: str | None = None):  # noqa: ANN201 - GeoDataFrame
    """``layer`` with ids that were made from names (a file without an id column) replaced
    by the id of the stored area of the same name, so that an official file re-draws the
    shipped wards instead of removing them (users' ward scopes and events hold ids)."""
    table = {"wards": "wards", "zones": "zones"}[kind]
    stored = dict(conn.execute(
        sql.SQL("SELECT name, id FROM {} WHERE %s::text IS NULL OR {} = %s").format(
            sql.Identifier(table),
            sql.SQL("province" if kind == "wards" else "properties->>'province'")),
        (province, province)).fetchall())
    taken = set(layer["id"])
    ids = [stored[n] if i == slug(n) and n in stored and stored[n] not in taken else i
           for i, n in zip(layer["id"], layer["name"])]
    return layer.assign(id=ids)
