"""Where on the map a detection is: its ground point through the camera's homography.

Without a homography (or for a pixel at or above the horizon) the camera's own position
is used and the event says so (``attributes.located = "camera"``). Ward and zone are
left for the store writer to tag from the point.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import shapely

from analytics.config import CameraConfig
from gis.homography import Homography


class Geotagger:
    """Pixel → (lon, lat) for one camera and frame size."""

    def __init__(self, cam: CameraConfig, frame_w: int, frame_h: int) -> None:
        self.cam = cam
        self.size = (frame_w, frame_h)
        self.homography = Homography.from_json(cam.homography) if cam.homography else None

    def locate(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 2) lon/lat and a bool array: True where the homography placed the point."""
        pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
        out = np.tile([self.cam.lon, self.cam.lat], (len(pixels), 1)).astype(float)
        placed = np.zeros(len(pixels), dtype=bool)
        if self.homography is not None and len(pixels):
            ll = self.homography.to_lonlat(pixels)
            placed = np.isfinite(ll).all(axis=1)
            out[placed] = ll[placed]
        return out, placed

    @cached_property
    def view_ground(self) -> tuple[tuple[float, float], float] | None:
        """Centre (lon, lat) and area (m²) of the ground the frame sees within range."""
        if self.homography is None:
            return None
        poly = self.homography.frame_ground_polygon(*self.size, (self.cam.lon, self.cam.lat),
                                                    self.cam.range_m)
        if poly.is_empty:
            return None
        c = poly.centroid
        from gis.grid import to_lonlat
        lon, lat = to_lonlat(np.array([c.x]), np.array([c.y]))
        return (float(lon[0]), float(lat[0])), float(poly.area)

    def polygon_area_m2(self, polygon: list[tuple[float, float]]) -> float:
        """Ground area (m²) of an image polygon, cut at the camera's range."""
        if self.homography is None:
            raise ValueError(f"camera {self.cam.id}: no homography for a ground area")
        ground = self.homography.image_polygon_to_utm(polygon)
        view = self.homography.frame_ground_polygon(*self.size, (self.cam.lon, self.cam.lat),
                                                    self.cam.range_m)
        return float(shapely.intersection(ground, view).area)

    def geofence_to_image(self, lonlat: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """A map geofence as an image polygon (pixels), clipped to the frame."""
        if self.homography is None:
            raise ValueError(f"camera {self.cam.id}: a geofence needs a homography")
        poly = self.homography.lonlat_polygon_to_image(shapely.Polygon(lonlat), *self.size)
        if poly is None or poly.is_empty:
            return []
        return [tuple(map(float, p)) for p in poly.exterior.coords[:-1]]
