"""The store's Maintainer merges alerts into incidents on its own (no page opened)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from store import incidents as inc
from store.maintenance import Maintainer, maintain
from store.model import GeoEvent
from store.registry import Camera, upsert_cameras
from store.writer import EventWriter

LON, LAT = 103.9650, 10.2150  # Phú Quốc, Dương Đông
DEG_100M = 100 / 111_320


def _alerts(cameras: tuple[str, ...], kind: str, dlat_m: float = 0.0) -> list[GeoEvent]:
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
    return [GeoEvent(ts=base + timedelta(seconds=20 * i), camera_id=cam, kind=kind, lon=LON,
                     lat=LAT + (dlat_m + 60 * i) / 100 * DEG_100M, attributes={"rule": "r1"})
            for i, cam in enumerate(cameras)]


def _write(db_url, settings, events) -> None:
    with EventWriter(db_url, settings) as writer:
        for event in events:
            assert writer.submit(event)
        assert writer.flush(timeout=30)


def _incidents(conn) -> list[tuple[str, int]]:
    now = datetime.now(timezone.utc)
    return sorted((i["kind_group"], i["n"])
                  for i in inc.list_incidents(conn, now - timedelta(days=1), now))


def test_one_maintenance_round_merges_new_alerts(db_url, conn, settings):
    upsert_cameras(conn, [Camera(id=c, name=c, lon=LON, lat=LAT) for c in ("c1", "c2")])
    conn.commit()
    _write(db_url, settings, _alerts(("c1", "c2", "c1"), "red_light"))
    result = maintain(conn, settings, housekeeping=False)
    assert result.merged == 3
    assert _incidents(conn) == [("traffic", 3)]
    assert maintain(conn, settings, housekeeping=False).merged == 0   # watermark kept


def test_the_maintainer_thread_forms_incidents_without_a_page(db_url, conn, settings):
    upsert_cameras(conn, [Camera(id=c, name=c, lon=LON, lat=LAT) for c in ("c1", "c2")])
    conn.commit()
    conn.autocommit = True
    maintainer = Maintainer(db_url, settings, every_s=0.2, incident_radius_m=500).start()
    try:
        _write(db_url, settings, _alerts(("c1", "c2"), "intrusion")
               + _alerts(("c2",), "abandoned_object", dlat_m=5000))
        deadline = time.monotonic() + 60      # a shared, loaded machine
        while _incidents(conn) != [("intrusion", 2), ("left_object", 1)]:
            assert time.monotonic() < deadline, _incidents(conn)
            time.sleep(0.2)
    finally:
        maintainer.stop()
    assert maintainer.rounds > 0
