"""Small builders shared by the store tests."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from store.db import connect
from store.embedded import EmbeddedPostgres
from store.migrate import upgrade
from store.model import GeoEvent
from store.registry import Camera, upsert_cameras

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


@contextmanager
def private_server(prefix: str, supervise: bool = False
                   ) -> Iterator[tuple[EmbeddedPostgres, str, Path]]:
    """A private embedded server a test may kill (not the shared test server): started,
    migrated, with :data:`CAMERAS`; removed afterwards. synchronous_commit stays on, so
    a commit survives the server being killed (fsync off only matters if the machine
    itself crashes)."""
    state = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    state.chmod(0o711)
    server = EmbeddedPostgres(state, conf={"fsync": "off"})
    url = server.start(supervise=supervise)
    upgrade(url)
    with connect(url) as c:
        upsert_cameras(c, CAMERAS, tag=False)
    try:
        yield server, url, state
    finally:
        server.stop(force=True)
        shutil.rmtree(state, ignore_errors=True)
