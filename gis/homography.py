"""Georeferencing a fixed camera: an image ↔ ground-plane homography in UTM 48N metres.

The matrix maps image pixels (x right, y down) to UTM 48N easting/northing (EPSG:32648),
fitted by OpenCV from at least four image↔map point pairs. Working in metres (not in
degrees) keeps the fit isotropic and lets us report the reprojection error in metres.
The JSON form is the ``cameras.homography`` column of the store::

    {"image_points": [[x, y], ...], "ground_points": [[lon, lat], ...],
     "matrix": [[...], [...], [...]], "error_m": 0.42}
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np
import shapely
from shapely import Polygon, box
from shapely.geometry.base import BaseGeometry

from gis.grid import to_lonlat, to_utm

log = logging.getLogger(__name__)

#: Points closer than this (pixels or metres) count as the same point.
_MIN_SEPARATION = 1e-3
#: A triangle of three pairs thinner than this fraction of the spread counts as a line.
_COLLINEAR_RATIO = 1e-3
#: Image points whose projective weight is below this are at or above the horizon.
_HORIZON_EPS = 1e-9
#: Half-extent of the "whole plane" box used for half-plane clipping (pixels or metres).
_FAR = 1e8


class DegenerateHomography(ValueError):
    """The point pairs cannot define a homography (too few, repeated, collinear)."""


def _as_points(points: Any, name: str) -> np.ndarray:
    arr = np.asarray(points, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be a list of [x, y] pairs, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains a non-finite value")
    return arr


def _check_spread(pts: np.ndarray, name: str) -> None:
    """Refuse repeated points and sets where no 4 points are in general position."""
    n = len(pts)
    d = np.linalg.norm(pts[:, None, :] - pts[None, :, :], axis=2)
    d[np.diag_indices(n)] = np.inf
    if (d < _MIN_SEPARATION).any():
        i, j = np.argwhere(d < _MIN_SEPARATION)[0]
        raise DegenerateHomography(f"{name}: points {i} and {j} coincide ({pts[i].tolist()})")
    centred = pts - pts.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    if s[1] <= _COLLINEAR_RATIO * s[0]:
        raise DegenerateHomography(f"{name}: all {n} points lie on one line")
    scale = float(np.ptp(pts, axis=0).max())
    # there must be 4 points with no 3 on a line (checked on small sets; larger sets with
    # a 2-D spread almost always have such a quadruple, and the fit check catches the rest)
    if n <= 8:
        def thin(a, b, c) -> bool:
            area2 = abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))
            return area2 <= _COLLINEAR_RATIO * scale * scale
        for quad in itertools.combinations(range(n), 4):
            if not any(thin(*pts[list(t)]) for t in itertools.combinations(quad, 3)):
                return
        raise DegenerateHomography(
            f"{name}: no 4 of the {n} points are free of 3 on one line")


def _apply(matrix: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply a 3×3 projective matrix; returns (xy, w) with w the projective weight."""
    h = np.column_stack([pts, np.ones(len(pts))]) @ matrix.T
    w = h[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = h[:, :2] / w[:, None]
    return xy, w


def _clip_half_plane(geom: BaseGeometry, row: np.ndarray) -> BaseGeometry:
    """Part of ``geom`` where row·(x, y, 1) > eps (the side in front of the camera)."""
    a, b, c = row
    norm = float(np.hypot(a, b))
    if norm == 0:
        return geom if c > _HORIZON_EPS else Polygon()
    # a big polygon for the half-plane: the line a·x + b·y + c = eps, extended far away
    n = np.array([a, b]) / norm
    t = np.array([-n[1], n[0]])
    p0 = n * ((_HORIZON_EPS - c) / norm)  # a point on the line
    # centre the box near the geometry so far-away corners stay numerically sane
    cx, cy = geom.centroid.x, geom.centroid.y
    foot = p0 + t * float(np.dot(np.array([cx, cy]) - p0, t))
    far = _FAR
    corners = [foot + t * far, foot + t * far + n * far, foot - t * far + n * far,
               foot - t * far]
    return shapely.intersection(geom, Polygon(corners))


def _largest_polygon(geom: BaseGeometry) -> Polygon | None:
    polys = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]
    if not polys:
        return None
    return max(polys, key=lambda g: g.area)


@dataclass(frozen=True, eq=False)
class Homography:
    """A fitted image → UTM 48N homography with the pairs it came from."""

    matrix: np.ndarray          # 3×3, image pixels → UTM 48N metres
    image_points: np.ndarray    # (n, 2) pixels
    ground_points: np.ndarray   # (n, 2) lon, lat
    error_m: float              # RMS reprojection error of the pairs, metres

    @classmethod
    def fit(cls, image_points: Sequence[Sequence[float]],
            lonlat_points: Sequence[Sequence[float]]) -> "Homography":
        """Fit from ≥ 4 image↔(lon, lat) pairs; DegenerateHomography if they cannot define one."""
        img = _as_points(image_points, "image_points")
        ll = _as_points(lonlat_points, "ground_points")
        if len(img) != len(ll):
            raise ValueError(f"{len(img)} image points but {len(ll)} ground points")
        if len(img) < 4:
            raise DegenerateHomography(f"a homography needs at least 4 point pairs, got {len(img)}")
        if (np.abs(ll[:, 0]) > 180).any() or (np.abs(ll[:, 1]) > 90).any():
            raise ValueError("ground_points must be [lon, lat] in degrees")
        _check_spread(img, "image_points")
        utm = np.column_stack(to_utm(ll[:, 0], ll[:, 1]))
        _check_spread(utm, "ground_points")
        # fit against coordinates relative to the centroid (better conditioned), then
        # fold the shift back in so the stored matrix maps straight to UTM metres
        origin = utm.mean(axis=0)
        matrix, _ = cv2.findHomography(img, utm - origin, 0)
        if matrix is None or not np.isfinite(matrix).all():
            raise DegenerateHomography("OpenCV found no homography for these point pairs")
        shift = np.array([[1.0, 0.0, origin[0]], [0.0, 1.0, origin[1]], [0.0, 0.0, 1.0]])
        matrix = shift @ matrix
        # scale so the projective weight is +1 on average over the fitted (ground) pixels:
        # then w > 0 means "below the horizon" everywhere (the top-left pixel may not be)
        _, w = _apply(matrix, img)
        matrix = matrix / float(np.mean(w))
        if not np.isfinite(matrix).all() or abs(np.linalg.det(matrix)) < 1e-12:
            raise DegenerateHomography("the fitted homography is singular")
        proj, w = _apply(matrix, img)
        if (w <= 0).any():
            raise DegenerateHomography(
                "a fitted point maps behind the camera; check that pairs are matched")
        err = float(np.sqrt(np.mean(np.sum((proj - utm) ** 2, axis=1))))
        log.debug("homography from %d pairs, RMS error %.3f m", len(img), err)
        return cls(matrix, img, ll, err)

    # -- point mapping ----------------------------------------------------------------------

    def to_utm(self, pixels: Any) -> np.ndarray:
        """Pixels (n, 2) → UTM metres (n, 2); NaN for pixels at or above the horizon."""
        pts = _as_points(np.atleast_2d(pixels), "pixels")
        xy, w = _apply(self.matrix, pts)
        xy[w <= _HORIZON_EPS] = np.nan
        return xy

    def to_lonlat(self, pixels: Any) -> np.ndarray:
        """Pixels (n, 2) → (lon, lat) (n, 2); NaN for pixels at or above the horizon."""
        xy = self.to_utm(pixels)
        out = np.full_like(xy, np.nan)
        ok = np.isfinite(xy).all(axis=1)
        if ok.any():
            lon, lat = to_lonlat(xy[ok, 0], xy[ok, 1])
            out[ok, 0], out[ok, 1] = lon, lat
        return out

    def to_image(self, lonlat: Any) -> np.ndarray:
        """(lon, lat) (n, 2) → pixels (n, 2); NaN for ground points behind the camera."""
        ll = _as_points(np.atleast_2d(lonlat), "lonlat")
        utm = np.column_stack(to_utm(ll[:, 0], ll[:, 1]))
        xy, w = _apply(np.linalg.inv(self.matrix), utm)
        xy[w <= _HORIZON_EPS] = np.nan
        return xy

    # -- polygons ---------------------------------------------------------------------------

    def image_polygon_to_utm(self, polygon: Polygon | Sequence[Sequence[float]]) -> Polygon:
        """An image polygon as a ground polygon in UTM metres (clipped below the horizon)."""
        poly = polygon if isinstance(polygon, BaseGeometry) else Polygon(polygon)
        if not poly.is_valid:
            poly = shapely.make_valid(poly)
        visible = _largest_polygon(_clip_half_plane(poly, self.matrix[2]))
        if visible is None:
            raise ValueError("the image polygon lies entirely at or above the horizon")
        return shapely.transform(visible, lambda c: _apply(self.matrix, c)[0])

    def image_polygon_to_ground(self, polygon: Polygon | Sequence[Sequence[float]]
                                ) -> tuple[Polygon, float]:
        """An image polygon (pixels) → (lon/lat ground polygon, area in m²)."""
        ground = self.image_polygon_to_utm(polygon)
        area = float(ground.area)
        lonlat = shapely.transform(ground, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1])))
        return lonlat, area

    def lonlat_polygon_to_image(self, polygon: Polygon, frame_w: int, frame_h: int
                                ) -> Polygon | None:
        """A lon/lat polygon (a geofence) → its image polygon clipped to the frame, or None.

        Only the part in front of the camera is kept; if the clipped result falls apart
        into pieces, the largest is returned.
        """
        if frame_w <= 0 or frame_h <= 0:
            raise ValueError(f"frame size must be positive, got {frame_w}×{frame_h}")
        utm = shapely.transform(polygon, lambda c: np.column_stack(to_utm(c[:, 0], c[:, 1])))
        inv = np.linalg.inv(self.matrix)
        front = _clip_half_plane(utm, inv[2])
        if front.is_empty:
            return None
        img = shapely.transform(front, lambda c: _apply(inv, c)[0])
        if not img.is_valid:
            img = shapely.make_valid(img)
        return _largest_polygon(shapely.intersection(img, box(0, 0, frame_w, frame_h)))

    def frame_ground_polygon(self, frame_w: int, frame_h: int,
                             camera_lonlat: tuple[float, float] | None = None,
                             max_range_m: float | None = None) -> Polygon:
        """The ground the whole frame sees (UTM metres), optionally cut at a range.

        Near the horizon a homography maps pixels kilometres away; ``max_range_m`` around
        the camera's position keeps the footprint to what it can usefully see.
        """
        ground = self.image_polygon_to_utm(box(0, 0, frame_w, frame_h))
        if max_range_m is not None:
            if camera_lonlat is None:
                raise ValueError("max_range_m needs the camera's position (camera_lonlat)")
            cx, cy = to_utm(np.array([camera_lonlat[0]]), np.array([camera_lonlat[1]]))
            disc = shapely.Point(float(cx[0]), float(cy[0])).buffer(max_range_m, quad_segs=32)
            ground = _largest_polygon(shapely.intersection(ground, disc)) or Polygon()
        return ground

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> dict:
        """The ``cameras.homography`` JSON object."""
        return {
            "image_points": self.image_points.tolist(),
            "ground_points": self.ground_points.tolist(),
            "matrix": self.matrix.tolist(),
            "error_m": self.error_m,
        }

    @classmethod
    def from_json(cls, data: dict | str) -> "Homography":
        """Rebuild from :meth:`to_json` output (a dict or its JSON text)."""
        if isinstance(data, (str, bytes)):
            data = json.loads(data)
        try:
            matrix = np.asarray(data["matrix"], dtype=float)
            img = _as_points(data["image_points"], "image_points")
            ll = _as_points(data["ground_points"], "ground_points")
            err = float(data["error_m"])
        except KeyError as exc:
            raise ValueError(f"homography JSON lacks {exc.args[0]!r}") from None
        if matrix.shape != (3, 3) or not np.isfinite(matrix).all():
            raise ValueError(f"homography matrix must be a finite 3×3, got {matrix.shape}")
        return cls(matrix, img, ll, err)
