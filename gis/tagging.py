"""Which ward and which zone a point lies in, for millions of points at once.

The store writer tags every event (``ward_id``, ``zone_id``) and the registry tags every
camera (``ward_id``, ``zone_ids``) with one :class:`AreaIndex`. Point-in-polygon runs in
shapely's vectorised ``contains_xy`` on prepared polygons, after a numpy bounding-box
filter, so no per-point Python and no million Point objects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

#: Above this many polygons a tree query beats one bbox pass per polygon.
_TREE_THRESHOLD = 256


@dataclass
class _Layer:
    ids: list[str]
    geoms: list[BaseGeometry]
    bounds: np.ndarray = field(init=False)
    tree: shapely.STRtree | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        for g in self.geoms:
            shapely.prepare(g)
        self.bounds = (np.array([g.bounds for g in self.geoms], dtype=float)
                       if self.geoms else np.empty((0, 4)))
        if len(self.geoms) > _TREE_THRESHOLD:
            self.tree = shapely.STRtree(self.geoms)

    def hits(self, x: np.ndarray, y: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
        """Yield (polygon index, indices of the points inside it)."""
        if self.tree is not None:
            pts = shapely.points(x, y)
            p_idx, g_idx = self.tree.query(pts, predicate="intersects")
            order = np.argsort(g_idx, kind="stable")
            p_idx, g_idx = p_idx[order], g_idx[order]
            starts = np.flatnonzero(np.r_[True, g_idx[1:] != g_idx[:-1]]) if len(g_idx) else []
            ends = list(starts[1:]) + [len(g_idx)] if len(g_idx) else []
            for s, e in zip(starts, ends):
                yield int(g_idx[s]), p_idx[s:e]
            return
        for i, g in enumerate(self.geoms):
            x0, y0, x1, y1 = self.bounds[i]
            cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if cand.size == 0:
                continue
            inside = shapely.contains_xy(g, x[cand], y[cand])
            # contains_xy excludes the boundary; a point exactly on an edge still belongs.
            edge = ~inside
            if edge.any():
                inside[edge] = shapely.intersects_xy(g, x[cand[edge]], y[cand[edge]])
            yield i, cand[inside]


class AreaIndex:
    """Wards and zones (lon/lat geometries, EPSG:4326) ready to tag points.

    Overlapping wards: the first in the given order wins. Overlapping zones: ``tag``
    gives the smallest (most specific) zone, ``zones_of`` gives all of them.
    """

    def __init__(self, wards: Mapping[str, BaseGeometry] | None = None,
                 zones: Mapping[str, BaseGeometry] | None = None) -> None:
        wards = dict(wards or {})
        zones = dict(zones or {})
        for kind, layer in (("ward", wards), ("zone", zones)):
            for key, geom in layer.items():
                if geom is None or geom.is_empty:
                    raise ValueError(f"{kind} {key!r} has an empty geometry")
        self._wards = _Layer(list(wards), list(wards.values()))
        # smallest first, so the first hit per point is the most specific zone
        order = sorted(zones, key=lambda k: shapely.area(zones[k]))
        self._zones = _Layer(order, [zones[k] for k in order])

    @classmethod
    def from_frames(cls, wards=None, zones=None) -> "AreaIndex":
        """Build from GeoDataFrames with ``id`` and ``geometry`` columns (any CRS → 4326)."""
        def mapping(gdf) -> dict[str, BaseGeometry]:
            if gdf is None or len(gdf) == 0:
                return {}
            if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
                gdf = gdf.to_crs(4326)
            return dict(zip(gdf["id"].astype(str), gdf.geometry))
        return cls(mapping(wards), mapping(zones))

    @property
    def ward_ids(self) -> list[str]:
        return list(self._wards.ids)

    @property
    def zone_ids(self) -> list[str]:
        return list(self._zones.ids)

    def __len__(self) -> int:
        return len(self._wards.ids) + len(self._zones.ids)

    @staticmethod
    def _xy(lon, lat) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(lon, dtype=float).ravel()
        y = np.ascontiguousarray(lat, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"lon and lat differ in length: {x.size} vs {y.size}")
        return x, y

    @staticmethod
    def _first(layer: _Layer, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.full(x.size, None, dtype=object)
        code = np.full(x.size, -1, dtype=np.int64)
        for i, idx in layer.hits(x, y):
            free = idx[code[idx] < 0]
            code[free] = i
        names = np.array(layer.ids + [None], dtype=object)
        out[:] = names[code]  # -1 picks the trailing None
        return out

    def tag(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ward_ids, zone_ids): object arrays of str or None, one per point."""
        x, y = self._xy(lon, lat)
        return self._first(self._wards, x, y), self._first(self._zones, x, y)

    def zones_of(self, lon: np.ndarray, lat: np.ndarray) -> list[list[str]]:
        """Every zone containing each point, smallest first (for cameras' zone_ids)."""
        x, y = self._xy(lon, lat)
        found: list[list[str]] = [[] for _ in range(x.size)]
        for i, idx in self._zones.hits(x, y):
            for p in idx.tolist():
                found[p].append(self._zones.ids[i])
        return found

    def tag_one(self, lon: float, lat: float) -> tuple[str | None, str | None]:
        """Ward and most specific zone of one point."""
        w, z = self.tag(np.array([lon]), np.array([lat]))
        return w[0], z[0]
