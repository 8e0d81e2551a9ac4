"""Faults: the server killed or stopped mid-ingest, connections cut, writers dying.

Every accepted event must end up stored exactly once, in submission order.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from store.db import connect
from store.embedded import EmbeddedPostgres
from store.listener import EventListener
from store.readers import events_since
from store.registry import upsert_cameras
from store.settings import load_settings
from store.writer import EventWriter
from tests.store.helpers import CAMERAS, event, private_server



def _stored_tracks(url: str) -> list[int]:
    with connect(url) as c:
        return [r[0] for r in c.execute("SELECT track_id FROM events ORDER BY id")]


@pytest.fixture
def own_server():
    """A private embedded server this test may kill (not the shared test server)."""
    with private_server("vigil-fault-") as made:
        yield made


def _restart(server: EmbeddedPostgres) -> None:
    server.stop()
    for _ in range(50):
        try:
            server.start()
            return
        except Exception:  # noqa: BLE001 - old backends may still hold shared memory
            time.sleep(0.2)
    server.start()


@pytest.mark.slow  # its own embedded server: the same on either CI run
@pytest.mark.parametrize("how", ["kill", "stop"])
def test_server_lost_mid_ingest(own_server, how):
    server, url, state = own_server
    settings = load_settings({"database_url": url, "state_dir": state / "w",
                              "writer_batch_rows": 200, "writer_batch_ms": 20}, environ={})
    writer = EventWriter(url, settings, memory_events=1000)
    total = 8000
    accepted = []

    def produce():
        for i in range(total):
            if writer.submit(event(i % 3000, track_id=i)):
                accepted.append(i)
            if i % 200 == 0:
                time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(0.2)
    if how == "kill":
        server.kill()
    else:
        server.stop(force=True)
    time.sleep(1.5)  # the writer keeps accepting and spills past 1000 in memory
    _restart(server)
    producer.join()
    assert writer.flush(60)
    stats = writer.stats
    writer.close()
    tracks = _stored_tracks(url)
    assert len(accepted) == total
    assert tracks == accepted  # all, once each, in submission order
    assert stats.retries >= 1 and stats.stored == total
    assert stats.spilled > 0


def test_connection_cut_mid_ingest(db_url, settings, conn):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    writer = EventWriter(db_url, load_settings(
        {"database_url": db_url, "state_dir": settings.state_dir,
         "writer_batch_rows": 100, "writer_batch_ms": 10}, environ={}))
    stop = threading.Event()

    def cut():
        with psycopg.connect(db_url, autocommit=True) as admin:
            while not stop.is_set():
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE application_name = 'vigil-writer'"
                              " AND datname = current_database()")
                time.sleep(0.05)

    cutter = threading.Thread(target=cut)
    cutter.start()
    for i in range(3000):
        assert writer.submit(event(i % 3000, track_id=i))
        if i % 100 == 0:
            time.sleep(0.005)
    time.sleep(0.3)
    stop.set()
    cutter.join()
    assert writer.flush(60)
    assert writer.stats.retries >= 1
    writer.close()
    assert _stored_tracks(db_url) == list(range(3000))


def test_spill_of_a_closed_writer_is_adopted(db_url, settings, conn, tmp_path):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    dead = "postgresql://postgres@/postgres?host=" + str(tmp_path / "nowhere")
    (tmp_path / "nowhere").mkdir()
    w1 = EventWriter(dead, settings, memory_events=1000)
    for i in range(2500):
        assert w1.submit(event(i, track_id=i))
    assert not w1.close(timeout=1.0)  # the database never came: parked on disk
    assert list((settings.state_dir / "spill").glob("*.spill"))
    w2 = EventWriter(db_url, settings)
    assert w2.stats.adopted == 2500
    w2.submit(event(0, track_id=2500))
    assert w2.flush(30)
    w2.close()
    assert _stored_tracks(db_url) == list(range(2501))
    assert not list((settings.state_dir / "spill").glob("*.spill"))


def test_listener_resumes_after_disconnect(db_url, settings, conn):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    got: list[int] = []
    listener = EventListener(db_url, after_id=0, poll_s=1.0, wake_s=0.1)

    def consume():
        for e in listener:
            got.append(e.track_id)

    reader = threading.Thread(target=consume)
    reader.start()
    with EventWriter(db_url, settings) as w:
        w.submit_many(event(i, track_id=i) for i in range(500))
        assert w.flush(10)
        deadline = time.monotonic() + 10
        while len(got) < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'vigil-listener'")
        w.submit_many(event(i, track_id=i) for i in range(500, 1200))
        assert w.flush(10)
    deadline = time.monotonic() + 15
    while len(got) < 1200 and time.monotonic() < deadline:
        time.sleep(0.05)
    listener.close()
    reader.join(10)
    assert got == list(range(1200))
    assert listener.reconnects >= 1


def test_listener_from_now_sees_only_new_events(db_url, settings, conn):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    with EventWriter(db_url, settings) as w:
        w.submit_many(event(i, track_id=i) for i in range(10))
        assert w.flush(10)
        with EventListener(db_url) as listener:
            assert listener.poll(0.1) == []
            w.submit_many(event(i, track_id=i) for i in range(10, 15))
            assert w.flush(10)
            assert [e.track_id for e in listener.poll(5)] == list(range(10, 15))
    assert events_since(conn, 0, 100)[-1].track_id == 14


def test_unreadable_spill_file_is_set_aside(db_url, settings, conn, tmp_path):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    dead = "postgresql://postgres@/postgres?host=" + str(tmp_path / "nowhere")
    (tmp_path / "nowhere").mkdir()
    w1 = EventWriter(dead, settings, memory_events=1000)
    def wait_for(counter: str) -> None:
        deadline = time.monotonic() + 30
        while not getattr(w1.stats, counter) and time.monotonic() < deadline:
            time.sleep(0.02)

    # A first batch fails and is held for retry; what arrives after it waits in memory
    # and, past memory_events, is spilled at the next retry.
    w1.submit_many(event(i, track_id=i) for i in range(10))
    w1.flush(0)
    wait_for("retries")
    w1.submit_many(event(i, track_id=i) for i in range(10, 2500))
    wait_for("spilled")
    assert not w1.close(timeout=0.5)
    files = sorted((settings.state_dir / "spill").glob("*.spill"))
    assert len(files) >= 2
    files[-1].write_bytes(b"not a pickle")
    w2 = EventWriter(db_url, settings)
    w2.submit(event(0, track_id=9999))
    assert w2.flush(30)
    w2.close()
    stored = _stored_tracks(db_url)
    assert stored[-1] == 9999 and 0 < len(stored) - 1 < 2500
    assert stored[:-1] == list(range(len(stored) - 1))  # what was readable, in order
    assert list((settings.state_dir / "spill").glob("*.bad"))
