"""What the cameras see: field-of-view polygons, coverage per ward or zone, blind spots.

A field of view is a circular sector from the camera's position, heading (degrees
clockwise from north), opening angle and useful range, built in UTM 48N metres so that
100 m is 100 m, or the ground footprint of a calibrated camera's frame (its homography).
Coverage is the union of working cameras' fields of view intersected with each area;
blind spots are what is left of the area.
"""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

import geopandas as gpd
import numpy as np
import shapely
from shapely import Polygon
from shapely.geometry.base import BaseGeometry

from gis.grid import UTM_CRS, to_lonlat, to_utm
from gis.homography import Homography

log = logging.getLogger(__name__)

#: Blind spots smaller than this (m²) are slivers between neighbouring cameras, not gaps.
MIN_BLIND_SPOT_M2 = 25.0


def _utm_to_lonlat(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1])))


def _lonlat_to_utm(geom: BaseGeometry) -> BaseGeometry:
    return shapely.transform(geom, lambda c: np.column_stack(to_utm(c[:, 0], c[:, 1])))


def fov_polygon_utm(lon: float, lat: float, heading_deg: float, fov_deg: float,
                    range_m: float, segments: int = 24) -> Polygon:
    """The field-of-view sector in UTM 48N metres (see :func:`fov_polygon`)."""
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"camera position lon={lon!r}, lat={lat!r} is not a coordinate")
    if not 0 < fov_deg <= 360:
        raise ValueError(f"fov_deg must be in (0, 360], got {fov_deg!r}")
    if not (np.isfinite(range_m) and range_m > 0):
        raise ValueError(f"range_m must be positive, got {range_m!r}")
    if not np.isfinite(heading_deg):
        raise ValueError(f"heading_deg must be finite, got {heading_deg!r}")
    cx, cy = (float(v[0]) for v in to_utm(np.array([lon]), np.array([lat])))
    if fov_deg >= 360:
        return shapely.Point(cx, cy).buffer(range_m, quad_segs=max(segments // 4, 8))
    n = max(int(np.ceil(segments * fov_deg / 90.0)), 2)
    bearings = np.radians(heading_deg + np.linspace(-fov_deg / 2, fov_deg / 2, n + 1))
    # bearing is clockwise from north: x = sin, y = cos
    xs = cx + range_m * np.sin(bearings)
    ys = cy + range_m * np.cos(bearings)
    return Polygon([(cx, cy), *zip(xs.tolist(), ys.tolist())])


def fov_polygon(lon: float, lat: float, heading_deg: float, fov_deg: float,
                range_m: float, segments: int = 24) -> Polygon:
    """The field of view as a lon/lat sector: apex at the camera, heading clockwise from north."""
    return _utm_to_lonlat(fov_polygon_utm(lon, lat, heading_deg, fov_deg, range_m, segments))


def fov_from_homography(homography: Homography, frame_w: int, frame_h: int,
                        camera_lonlat: tuple[float, float] | None = None,
                        max_range_m: float | None = None) -> Polygon:
    """The ground footprint of a calibrated camera's frame as a lon/lat polygon."""
    ground = homography.frame_ground_polygon(frame_w, frame_h, camera_lonlat, max_range_m)
    return _utm_to_lonlat(ground)


def camera_fovs(cameras: Iterable[dict], frame_size: tuple[int, int] = (1920, 1080)
                ) -> list[Polygon]:
    """FOV polygons of camera records (dicts with the ``cameras`` table's columns).

    A camera with a homography uses its frame footprint cut at ``range_m``; otherwise
    its heading/angle/range sector.
    """
    out = []
    for cam in cameras:
        h = cam.get("homography")
        if h:
            try:
                hom = h if isinstance(h, Homography) else Homography.from_json(h)
                fov = fov_from_homography(hom, *frame_size, (cam["lon"], cam["lat"]),
                                          cam.get("range_m") or 150.0)
            except ValueError as exc:  # a broken calibration must not hide the camera
                log.warning("camera %s: homography footprint unusable (%s); using its "
                            "heading/angle sector", cam.get("id"), exc)
            else:
                if not fov.is_empty:
                    out.append(fov)
                    continue
        out.append(fov_polygon(cam["lon"], cam["lat"], cam.get("heading_deg") or 0.0,
                               cam.get("fov_deg") or 90.0, cam.get("range_m") or 100.0))
    return out


def coverage_union(fovs: Sequence[BaseGeometry]) -> BaseGeometry:
    """The union of lon/lat fields of view, as a lon/lat geometry."""
    if not fovs:
        return Polygon()
    return _utm_to_lonlat(shapely.union_all([_lonlat_to_utm(f) for f in fovs]))


def coverage_by_area(areas: gpd.GeoDataFrame, fovs: Sequence[BaseGeometry],
                     min_blind_spot_m2: float = MIN_BLIND_SPOT_M2) -> gpd.GeoDataFrame:
    """Coverage of each area (ward or zone) by the union of ``fovs`` (lon/lat polygons).

    Returns one row per area: ``id``, ``name``, ``area_m2``, ``covered_m2``,
    ``percent_covered``, ``blind_spot_count`` and ``geometry`` = the blind spots
    (MultiPolygon, EPSG:4326; parts under ``min_blind_spot_m2`` dropped as slivers).
    """
    if "id" not in areas.columns:
        raise ValueError("areas need an 'id' column")
    src = areas if areas.crs is not None else areas.set_crs(4326)
    utm = src.to_crs(UTM_CRS)
    seen = (shapely.union_all([_lonlat_to_utm(f) for f in fovs if f is not None])
            if fovs else Polygon())
    rows = []
    for ident, name, geom in zip(utm["id"], utm.get("name", utm["id"]), utm.geometry):
        if geom is None or geom.is_empty:
            raise ValueError(f"area {ident!r} has an empty geometry")
        covered = shapely.intersection(geom, seen)
        blind = shapely.difference(geom, seen)
        parts = [p for p in shapely.get_parts(blind)
                 if isinstance(p, Polygon) and p.area >= min_blind_spot_m2]
        area = float(geom.area)
        rows.append({
            "id": ident, "name": name, "area_m2": area, "covered_m2": float(covered.area),
            "percent_covered": 100.0 * float(covered.area) / area if area > 0 else 0.0,
            "blind_spot_count": len(parts),
            "geometry": shapely.MultiPolygon(parts) if parts else shapely.MultiPolygon(),
        })
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM_CRS,
                           columns=["id", "name", "area_m2", "covered_m2", "percent_covered",
                                    "blind_spot_count", "geometry"])
    return out.to_crs(4326)
