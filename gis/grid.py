"""The heatmap grid: square 250 m cells in UTM zone 48N (EPSG:32648).

Why square UTM cells and not H3 hexagons:

* Both provinces vigil ships for (Phú Quốc at 104°E, Thanh Hóa at 105.8°E) lie inside UTM
  zone 48N (102–108°E), where the projection's scale error is under 0.04 %, so a 250 m
  cell really is 250 m × 250 m on the ground and every cell has the same area. Counts per
  cell are therefore directly comparable, which the Getis-Ord statistic in
  :mod:`gis.hotspots` assumes; H3 cells vary in area with latitude and position on the
  icosahedron.
* A cell id is two integer divisions after one pyproj transform, vectorised in numpy; no
  extra compiled dependency (H3) is needed on an air-gapped server, and the id can be
  decoded in SQL or JavaScript without a library.
* Neighbours for Gi* are the 8 surrounding cells: plain integer offsets.
* The cost: cells are not nested (no hierarchy), and outside zone 48 they are skewed. The
  whole of Vietnam's mainland and islands is within 102–110°E, and 48N is the zone
  Vietnam's own national grid is based on, so the distortion stays small (≤ 0.1 % up to
  110°E).

A cell id packs the column and row indices (``floor(easting / 250)``,
``floor(northing / 250)``) into one int64: ``(col << 32) | (row & 0xffffffff)``.
"""

from __future__ import annotations

import numpy as np
from pyproj import Transformer
from shapely import Polygon, box

#: Edge length of a heatmap cell, metres.
CELL_SIZE_M = 250

#: The metric CRS of the grid (and of homographies).
UTM_CRS = "EPSG:32648"

TO_UTM = Transformer.from_crs("EPSG:4326", UTM_CRS, always_xy=True)
TO_LONLAT = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True)


def to_utm(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project lon/lat degrees (EPSG:4326) to UTM 48N easting/northing metres."""
    x, y = TO_UTM.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unproject UTM 48N metres to lon/lat degrees."""
    lon, lat = TO_LONLAT.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _check_lonlat(lon: np.ndarray, lat: np.ndarray) -> None:
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in shape: {lon.shape} vs {lat.shape}")
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"invalid coordinate at index {i}: lon={lon.flat[i]!r}, "
                         f"lat={lat.flat[i]!r}")


def pack(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Pack column and row indices into cell ids."""
    col = np.asarray(col, dtype=np.int64)
    row = np.asarray(row, dtype=np.int64)
    return (col << 32) | (row & 0xFFFFFFFF)


def unpack(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split cell ids into (column, row) index arrays."""
    ids = np.asarray(ids, dtype=np.int64)
    col = ids >> 32
    row = (ids & 0xFFFFFFFF).astype(np.uint32).view(np.int32).astype(np.int64)
    return col, row


def cell_ids(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Cell id (int64) of each lon/lat point; raises ValueError on a non-finite point."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    _check_lonlat(lon, lat)
    x, y = to_utm(lon, lat)
    col = np.floor(x / CELL_SIZE_M).astype(np.int64)
    row = np.floor(y / CELL_SIZE_M).astype(np.int64)
    return pack(col, row)


def cell_id(lon: float, lat: float) -> int:
    """Cell id of one point."""
    return int(cell_ids(np.array([lon]), np.array([lat]))[0])


def cell_center_utm(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of cells in UTM 48N metres."""
    col, row = unpack(ids)
    return (col + 0.5) * CELL_SIZE_M, (row + 0.5) * CELL_SIZE_M


def cell_center(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of cells as (lon, lat) arrays."""
    x, y = cell_center_utm(ids)
    return to_lonlat(x, y)


def cell_polygons(ids: np.ndarray) -> list[Polygon]:
    """Each cell's square as a lon/lat polygon (EPSG:4326), corners projected exactly."""
    col, row = unpack(np.atleast_1d(ids))
    x0 = col * float(CELL_SIZE_M)
    y0 = row * float(CELL_SIZE_M)
    x1 = x0 + CELL_SIZE_M
    y1 = y0 + CELL_SIZE_M
    xs = np.stack([x0, x1, x1, x0], axis=1)
    ys = np.stack([y0, y0, y1, y1], axis=1)
    lon, lat = to_lonlat(xs.ravel(), ys.ravel())
    lon = lon.reshape(-1, 4)
    lat = lat.reshape(-1, 4)
    return [Polygon(np.column_stack([lo, la])) for lo, la in zip(lon, lat)]


def cell_boxes_utm(ids: np.ndarray) -> list[Polygon]:
    """Each cell's square in UTM 48N metres."""
    col, row = unpack(np.atleast_1d(ids))
    return [box(c * CELL_SIZE_M, r * CELL_SIZE_M, (c + 1) * CELL_SIZE_M, (r + 1) * CELL_SIZE_M)
            for c, r in zip(col.tolist(), row.tolist())]


def neighbour_ids(ids: np.ndarray) -> np.ndarray:
    """The 3×3 block of cell ids around each cell (itself included), shape (n, 9)."""
    col, row = unpack(np.atleast_1d(ids))
    dc = np.array([-1, -1, -1, 0, 0, 0, 1, 1, 1])
    dr = np.array([-1, 0, 1, -1, 0, 1, -1, 0, 1])
    return pack(col[:, None] + dc[None, :], row[:, None] + dr[None, :])
