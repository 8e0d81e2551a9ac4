"""Simulated plate reads are stored and found like real ones (issue 10: the plate search
found nothing in the demo, because simulated reads lacked ``plate_compact``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from store.plate_format import compact, parse_plate, plate_attributes
from store.registry import Camera, upsert_cameras
from store.settings import load_settings
from store.writer import EventWriter
from tests.recognition.conftest import app  # noqa: F401 - the web app, one user per role
from tests.recognition.recognition_testing import client_for
from webapp.demo.simulator import EventSimulator, SimulatedCamera

CAMERA = SimulatedCamera("pq-traffic-1", "traffic", 103.9612, 10.2118, 190.0, 60.0, 120.0,
                         "road", ward_id="ward-a", plate_prefix="68")


def _plate_events(hours: float = 1.0):
    end = datetime.now(timezone.utc) - timedelta(minutes=1)
    sim = EventSimulator([CAMERA], seed=11)
    events = list(sim.events_between(end - timedelta(hours=hours), end))
    return [e for e in events if e.kind in ("plate_read", "plate_match")]


def test_simulated_plate_events_carry_the_attributes_of_a_real_read():
    events = _plate_events()
    assert len(events) > 5
    for e in events:
        plate = parse_plate(e.attributes["plate"])
        assert plate is not None and plate.text == e.attributes["plate"]
        # the same builder as analytics.recognition.plates.PlateWatcher: same keys, values
        for key, value in plate_attributes(plate).items():
            assert e.attributes[key] == value, key
        assert e.attributes["simulated"] is True
        if e.kind == "plate_match":
            assert e.attributes["hotlist"]["plate"] == plate.text


@pytest.fixture
def stored(db_url: str, conn, tmp_path: Path):
    """One simulated hour of the traffic camera's plate events, through the store writer."""
    upsert_cameras(conn, [Camera(id=CAMERA.id, name="Trần Hưng Đạo", lon=CAMERA.lon,
                                 lat=CAMERA.lat, ward_id="ward-a")])
    conn.commit()
    events = _plate_events()
    writer = EventWriter(db_url, load_settings({"state_dir": tmp_path / "w"}, environ={}))
    for e in events:
        writer.submit(e)
    writer.flush(timeout=30)
    writer.close()
    return events


def test_plate_search_finds_a_simulated_read_typed_without_punctuation(app, stored):  # noqa: F811
    target = stored[len(stored) // 2]
    printed = target.attributes["plate"]            # e.g. "68-K3 123.45" or "68K-123.45"
    typed = compact(printed).lower()                # what a person types: "68k312345"
    assert typed != printed
    op = client_for(app, "operator")
    r = op.get(f"/api/v1/recognition/plates?plate={typed}")
    assert r.status_code == 200
    plates = [e["attributes"]["plate"] for e in r.json["events"]]
    assert printed in plates, (typed, plates)
    assert all(compact(printed) in compact(p) for p in plates)
    # a partial search (the last digits, typed with a different punctuation) finds it too
    tail = compact(printed)[-5:]
    r = op.get(f"/api/v1/recognition/plates?plate={tail[:3]}-{tail[3:]}")
    assert printed in {e["attributes"]["plate"] for e in r.json["events"]}
    # and the recognition page lists it
    page = op.get(f"/recognition?plate={typed}")
    assert page.status_code == 200 and printed in page.get_data(as_text=True)
