"""The writer against a real database: stored rows, ids, NOTIFY, bad events, tagging."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.types.json import Jsonb

from gis.grid import cell_ids
from store.model import Evidence, Severity
from store.readers import events_since
from store.registry import upsert_cameras
from store.writer import EventWriter
from tests.store.helpers import CAMERAS, LAT, LON, event


@pytest.fixture
def cameras(conn):
    upsert_cameras(conn, CAMERAS)
    return CAMERAS


@pytest.fixture
def writer(db_url, settings, cameras):
    w = EventWriter(db_url, settings)
    yield w
    w.close()


def test_events_round_trip(writer, conn):
    sent = [event(i, camera=f"cam-{i % 4}") for i in range(2500)]
    sent.append(event(2600, evidence=Evidence("2026/x.jpg", "ab" * 32),
                      severity=Severity.HIGH, kind="intrusion", value=None, track_id=None,
                      attributes={"zone": "Chợ đêm", "n": [1, 2]}))
    for e in sent:
        assert writer.submit(e)
    assert writer.flush(30)
    got = events_since(conn, 0, 10_000)
    assert len(got) == len(sent)
    assert [g.id for g in got] == list(range(got[0].id, got[0].id + len(got)))
    for s, g in zip(sent, got):
        assert g.ts == s.ts and g.camera_id == s.camera_id and g.kind == s.kind
        assert g.lon == s.lon and g.lat == s.lat and g.value == s.value
        assert g.track_id == s.track_id and dict(g.attributes) == dict(s.attributes)
        assert g.severity == s.severity and g.evidence == s.evidence
    cells = [r[0] for r in conn.execute("SELECT cell_id FROM events ORDER BY id")]
    assert cells == cell_ids([e.lon for e in sent], [e.lat for e in sent]).tolist()
    st = writer.stats
    assert st.stored == len(sent) and st.rejected == 0 and st.buffered == 0
    assert st.last_id == got[-1].id


def test_one_notify_per_batch_with_id_range(db_url, settings, cameras):
    listen = psycopg.connect(db_url, autocommit=True)
    listen.execute("LISTEN vigil_events")
    with EventWriter(db_url, settings) as w:
        w.submit_many(event(i) for i in range(10))
        assert w.flush(10)
        w.submit_many(event(i) for i in range(10, 15))
        assert w.flush(10)
    notes = [json.loads(n.payload) for n in listen.notifies(timeout=1, stop_after=5)]
    listen.close()
    assert len(notes) == 2
    assert notes[1]["last_id"] - notes[0]["first_id"] == 14
    assert notes[0]["last_id"] + 1 == notes[1]["first_id"]


def test_bad_events_rejected_good_ones_stored(writer, conn):
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    bad = {
        "lon": event(1, lon=math.nan),
        "lat": event(2, lat=95.0),
        "camera_id": event(3, camera="no-such-camera"),
        "kind": event(4, kind="alien_landing"),
        "ts": event(5, ts=future),
        "naive": event(6, ts=datetime(2026, 1, 1)),
        "value": event(7, value=math.inf),
        "attributes": event(8, attributes={"x": object()}),
    }
    good = [event(i) for i in range(10, 20)]
    batch = good[:5] + list(bad.values()) + good[5:]
    for e in batch:
        writer.submit(e)
    assert writer.flush(10)
    stored = events_since(conn, 0, 100)
    assert [e.track_id for e in stored] == [e.track_id for e in good]
    st = writer.stats
    assert st.rejected == len(bad) and st.stored == len(good)
    reasons = {id(e): r for e, r in writer.rejections}
    assert reasons[id(bad["lon"])].field == "lon"
    assert reasons[id(bad["lat"])].field == "lat"
    assert reasons[id(bad["camera_id"])].reason == "unknown camera"
    assert reasons[id(bad["kind"])].reason == "unknown event kind"
    assert reasons[id(bad["ts"])].reason == "lies in the future"
    assert "timezone" in reasons[id(bad["naive"])].reason
    assert reasons[id(bad["value"])].field == "value"
    assert reasons[id(bad["attributes"])].field == "attributes"


def test_new_camera_is_picked_up(writer, conn):
    from store.registry import Camera
    writer.submit(event(1))
    assert writer.flush(10)
    upsert_cameras(conn, [Camera(id="cam-new", name="New", lon=LON, lat=LAT)])
    conn.commit()
    import time
    time.sleep(1.1)  # the writer re-reads cameras at most once a second
    writer.submit(event(2, camera="cam-new"))
    assert writer.flush(10)
    assert [e.camera_id for e in events_since(conn, 0, 10)] == ["cam-0", "cam-new"]


def _square(lon0, lat0, lon1, lat1):
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1],
                                                [lon0, lat1], [lon0, lat0]]]}


def test_missing_ward_and_zone_are_tagged(db_url, settings, cameras, conn):
    conn.execute("INSERT INTO wards (id, name, province, geometry) VALUES"
                 " ('w-west', 'West', 'KG', %s), ('w-east', 'East', 'KG', %s)",
                 (Jsonb(_square(LON - 0.1, LAT - 0.1, LON + 0.0045, LAT + 0.1)),
                  Jsonb(_square(LON + 0.0045, LAT - 0.1, LON + 0.1, LAT + 0.1))))
    conn.execute("INSERT INTO zones (id, name, kind, geometry) VALUES"
                 " ('z-market', 'Chợ', 'market', %s)",
                 (Jsonb(_square(LON - 0.001, LAT - 0.001, LON + 0.001, LAT + 0.001)),))
    conn.execute("UPDATE area_version SET version = version + 1")
    conn.commit()
    with EventWriter(db_url, settings) as w:
        w.submit(event(0, lon=LON, lat=LAT))                       # west, in the market
        w.submit(event(1, camera="cam-3", lon=LON + 0.009, lat=LAT))  # east, no zone
        w.submit(event(2, lon=LON, lat=LAT, ward_id="given", zone_id=None))
        assert w.flush(10)
    rows = conn.execute("SELECT ward_id, zone_id FROM events ORDER BY id").fetchall()
    assert rows == [("w-west", "z-market"), ("w-east", None), ("given", "z-market")]


def test_partitions_made_for_old_events(writer, conn):
    old = datetime.now(timezone.utc) - timedelta(days=20)
    writer.submit(event(0, ts=old))
    assert writer.flush(10)
    assert events_since(conn, 0, 10)[0].ts == old


def test_any_event_inside_retention_is_stored_older_ones_refused(writer, conn, settings):
    """A camera back after a day offline, or footage imported later, brings old
    timestamps: every day inside the retention window is accepted (its partition made on
    demand, whatever the hour now), older events are refused with the reason."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    keep = timedelta(days=settings.retention_days)
    inside = [now - timedelta(hours=h) for h in (25, 30, 47, 49)] + [now - keep
                                                                     + timedelta(hours=1)]
    outside = now - keep - timedelta(days=1)
    for i, ts in enumerate(inside + [outside]):
        writer.submit(event(i, ts=ts))
    assert writer.flush(30)
    assert [e.ts for e in events_since(conn, 0, 10)] == inside
    (bad, reason), = writer.rejections
    assert bad.ts == outside and reason.field == "ts"
    assert reason.reason == f"older than the retention window ({settings.retention_days} " \
        "days): not stored"
    st = writer.stats
    assert st.submitted == len(inside) + 1 == st.stored + st.rejected


def test_lone_event_is_written_within_batch_ms(db_url, tmp_path, cameras, monkeypatch):
    """An idle writer wakes for the first event (not only at writer_batch_rows): a lone
    alert reaches NOTIFY after writer_batch_ms, not after the idle wait. The idle wait is
    made 60 s here so that a writer that ignores the first event is caught for sure."""
    import time

    import store.writer
    from store.settings import load_settings
    monkeypatch.setattr(store.writer, "IDLE_WAIT_S", 60.0)
    fast = load_settings({"database_url": db_url, "state_dir": tmp_path,
                          "writer_batch_ms": 50}, environ={})
    listen = psycopg.connect(db_url, autocommit=True)
    listen.execute("LISTEN vigil_events")
    with EventWriter(db_url, fast) as w:
        time.sleep(0.3)  # the writer is idle, waiting
        for i in range(3):
            w.submit(event(i))
            notes = list(listen.notifies(timeout=20, stop_after=1))
            assert len(notes) == 1, f"lone event {i} not written within 20 s"
            ids = json.loads(notes[0].payload)
            assert ids["last_id"] == ids["first_id"]  # one event, one batch
    listen.close()


def test_retry_backoff_holds_while_producers_submit(tmp_path, caplog):
    """With the database away, new batches must not wake the writer into retrying: the
    backoff doubles from 0.05 s whatever the producers do, and the log says the outage
    once (not a warning per retry)."""
    import logging
    import time

    from store.settings import load_settings
    dead = "postgresql://vigil@127.0.0.1:9/vigil"  # nothing listens on the discard port
    st = load_settings({"database_url": dead, "state_dir": tmp_path,
                        "writer_batch_rows": 10, "writer_batch_ms": 5}, environ={})
    caplog.set_level(logging.WARNING, logger="store.writer")
    w = EventWriter(dead, st, memory_events=1000)
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < 2.0:  # a batch of 10 every 10 ms
        n += w.submit_many(event(i) for i in range(n, n + 10))
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    retries = w.stats.retries
    during = [r.getMessage() for r in caplog.records]
    w.close(timeout=0.1)
    # 0.05 + 0.1 + 0.2 + … : at most ~log2(elapsed / 0.05) + 2 tries, however busy.
    bound = 2 + int(math.log2(elapsed / 0.05) + 1)
    assert 1 <= retries <= bound, (retries, bound, n)
    assert len([m for m in during if "unreachable" in m]) == 1, during
    assert len(during) <= 2, during  # the outage, and the first spill to disk
    assert w.stats.submitted == n


def test_overflow_is_counted(db_url, tmp_path, cameras, caplog):
    from store.settings import load_settings
    tiny = load_settings({"database_url": db_url, "state_dir": tmp_path,
                          "writer_buffer_events": 1000, "writer_batch_ms": 60_000,
                          "writer_batch_rows": 5000}, environ={})
    w = EventWriter(db_url, tiny)
    accepted = sum(w.submit(event(i)) for i in range(1200))
    assert accepted == 1000
    assert w.stats.overflowed == 200
    assert "OVERFLOW" in caplog.text
    assert w.close(10)


def test_event_refused_by_database_is_rejected_alone(writer, conn):
    """A batch with one event that passes the writer's checks but not the server's (a
    NUL in jsonb): the COPY is bisected, only that one is rejected, the rest is stored
    once, in order."""
    n = 3000  # events are i seconds apart within the past hour
    batch = [event(i) for i in range(n)]
    culprit = batch[2500] = event(2500, attributes={"x": "a\x00b"})
    writer.submit_many(batch)
    assert writer.flush(60)
    stored = events_since(conn, 0, n + 10)
    assert [e.track_id for e in stored] == [i for i in range(n) if i != 2500]
    assert [e.id for e in stored] == sorted(e.id for e in stored)
    st = writer.stats
    assert st.stored == n - 1 and st.rejected == 1
    (bad, reason), = writer.rejections
    assert bad is culprit and "refused by the database" in reason.reason
