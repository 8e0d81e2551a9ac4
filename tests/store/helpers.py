"""Small builders shared by the store tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from store.model import GeoEvent
from store.registry import Camera

# Phú Quốc, Dương Đông: a real place inside UTM zone 48N.
LON, LAT = 103.965, 10.215
CAMERAS = [Camera(id=f"cam-{i}", name=f"Camera {i}", lon=LON + i * 0.003, lat=LAT,
                  heading_deg=90, fov_deg=70, range_m=60) for i in range(4)]


def event(i: int = 0, camera: str = "cam-0", kind: str = "person_count", **kw) -> GeoEvent:
    """A valid event, i seconds after a fixed recent instant."""
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    fields = dict(ts=base + timedelta(seconds=i), camera_id=camera, kind=kind,
                  lon=LON + 0.0001 * (i % 7), lat=LAT + 0.0001 * (i % 5), value=float(i),
                  track_id=i, attributes={"i": i})
    fields.update(kw)
    return GeoEvent(**fields)
