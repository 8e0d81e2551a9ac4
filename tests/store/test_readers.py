"""Readers, rollups and retention on both layouts (partitions / hypertable)."""

from __future__ import annotations

import random
import threading
from datetime import datetime, timedelta, timezone

import pytest

from store.maintenance import apply_retention, maintain, refresh_rollups
from store.readers import (EventQuery, camera_status, find_events, heatmap_cells,
                           last_event_id, ward_series)
from store.registry import Heartbeat, list_cameras, record_heartbeat, upsert_cameras
from store.writer import EventWriter
from tests.store.helpers import CAMERAS, LAT, LON, event

KINDS = ("person_count", "crowd_sample", "intrusion")


@pytest.fixture
def filled(db_url, settings, conn):
    """600 events over 4 cameras, 3 kinds, 2 wards, the last 2.5 hours."""
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    sent = [event(0, camera=f"cam-{i % 4}", kind=KINDS[i % 3], track_id=i,
                  ts=now - timedelta(seconds=15 * i), ward_id=("w1", "w2")[i % 2],
                  lon=LON + 0.004 * (i % 4), lat=LAT, value=float(i % 10))
            for i in range(600)]
    with EventWriter(db_url, settings) as w:
        w.submit_many(sent)
        assert w.flush(20)
    return sent, now


def test_find_events_filters_and_pages(filled, conn):
    sent, now = filled
    q = EventQuery(start=now - timedelta(hours=1), end=now + timedelta(seconds=1),
                   ward_ids=["w1"], kinds=["intrusion", "person_count"], limit=37)
    want = sorted((e for e in sent if q.start <= e.ts < q.end and e.ward_id == "w1"
                   and e.kind in q.kinds), key=lambda e: e.ts, reverse=True)
    seen, pages = [], 0
    while True:
        page = find_events(conn, q)
        seen += page.events
        pages += 1
        if page.next is None:
            break
        q = EventQuery(**{**q.__dict__, "after": page.next})
    assert [e.track_id for e in seen] == [e.track_id for e in want]
    assert pages == len(want) // 37 + 1
    box = find_events(conn, EventQuery(bbox=(LON + 0.003, LAT - 0.01, LON + 0.005, LAT + 0.01),
                                       limit=1000)).events
    assert {e.camera_id for e in box} == {"cam-1"}
    alerts = find_events(conn, EventQuery(alerts_only=True, limit=1000)).events
    assert {e.kind for e in alerts} == {"intrusion"}


def test_heatmap_from_rollups_and_tail(filled, conn):
    sent, now = filled
    start, end = now - timedelta(hours=3), now + timedelta(minutes=1)
    before = heatmap_cells(conn, start, end)  # nothing rolled up yet: all from the tail
    assert sum(c.n for c in before) == 600
    assert refresh_rollups(conn) == 600
    assert refresh_rollups(conn) == 0
    after = heatmap_cells(conn, start, end)
    assert after == before
    assert len(after) == len({e.lon for e in sent})  # one cell per camera here
    crowd = heatmap_cells(conn, start, end, kinds=["crowd_sample"], ward_ids=["w2"])
    want = [e for e in sent if e.kind == "crowd_sample" and e.ward_id == "w2"]
    assert sum(c.n for c in crowd) == len(want)
    assert max(c.value_max for c in crowd) == max(e.value for e in want)
    assert sum(c.value_sum for c in crowd) == sum(e.value for e in want)


def test_ward_series(filled, conn):
    sent, now = filled
    refresh_rollups(conn)
    pts = ward_series(conn, now - timedelta(hours=3), now + timedelta(minutes=1),
                      bucket=timedelta(hours=1), ward_ids=["w1"])
    assert {p.ward_id for p in pts} == {"w1"}
    assert sum(p.n for p in pts) == sum(1 for e in sent if e.ward_id == "w1")
    with pytest.raises(ValueError, match="15 minutes"):
        ward_series(conn, now, now, bucket=timedelta(minutes=10))


def test_watermark_misses_nothing_with_concurrent_writers(db_url, settings, conn):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    stop = threading.Event()
    folded = []

    def refresher():
        from store.db import connect
        with connect(db_url, autocommit=True) as c:
            while not stop.is_set():
                folded.append(refresh_rollups(c))

    r = threading.Thread(target=refresher)
    r.start()
    writers = [EventWriter(db_url, settings) for _ in range(3)]
    threads = [threading.Thread(target=lambda w=w, k=k: [w.submit(event(i % 3000, track_id=k))
                                                          for i in range(2000)])
               for k, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        assert w.flush(30)
        w.close()
    stop.set()
    r.join()
    folded.append(refresh_rollups(conn))
    total = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    rolled = conn.execute("SELECT sum(n) FROM heatmap_rollup").fetchone()[0]
    assert total == rolled == sum(folded) == 6000


def test_camera_status_and_heartbeats(filled, conn):
    record_heartbeat(conn, Heartbeat("cam-1", "online", fps=12.5, frames_read=100,
                                     frames_dropped=2))
    record_heartbeat(conn, Heartbeat("cam-2", "offline"))
    conn.commit()
    status = {s.camera_id: s for s in camera_status(conn)}
    assert status["cam-1"].status == "online" and status["cam-1"].fps == 12.5
    assert status["cam-2"].status == "offline" and status["cam-2"].heartbeat_status == "offline"
    assert status["cam-0"].heartbeat_at is None and status["cam-0"].last_event_at is not None
    assert [c.id for c in list_cameras(conn)] == [c.id for c in CAMERAS]


def test_retention_drops_old_days(db_url, settings, conn):
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    now = datetime.now(timezone.utc)
    # Stored while the retention was a year; the store now keeps 90 days.
    year = settings.model_copy(update={"retention_days": 365})
    with EventWriter(db_url, year) as w:
        w.submit_many(event(0, ts=now - timedelta(days=d), track_id=d) for d in (1, 50, 100, 120))
        assert w.flush(10)
    refresh_rollups(conn)
    assert apply_retention(conn, 90) >= 2
    kept = [r[0] for r in conn.execute("SELECT track_id FROM events ORDER BY track_id")]
    assert kept == [1, 50]
    oldest = conn.execute("SELECT min(bucket) FROM heatmap_rollup").fetchone()[0]
    assert oldest > now - timedelta(days=91)
    for table in ("heatmap_cell_span", "heatmap_kind_span"):
        ends = conn.execute(f"SELECT min(bucket + span) FROM {table}").fetchone()[0]
        assert ends > now - timedelta(days=91), table  # days 100 and 120 are gone
    result = maintain(conn, settings)
    assert result.rolled_up == 0 and result.dropped == 0
    assert last_event_id(conn) == 2  # the highest id still stored


@pytest.mark.parametrize("spans", ["cell", "kind"])
def test_segments_cover_the_window_exactly(spans):
    from store.readers import CELL_SPANS, KIND_SPANS, ROLLUP_BUCKET, rollup_segments
    spans = CELL_SPANS if spans == "cell" else KIND_SPANS
    t = datetime(2026, 3, 1, 22, 45, tzinfo=timezone.utc)
    for lo, hi in ((t, t + timedelta(days=3, hours=5, minutes=30)),
                   (t, t + timedelta(minutes=45)), (t, t + timedelta(hours=2)),
                   (t + timedelta(minutes=15), t + timedelta(days=1, minutes=15)),
                   (t, t + timedelta(days=30)), (t, t + timedelta(days=16, hours=7))):
        segs = rollup_segments(lo, hi, spans)
        assert segs[0][1] == lo and segs[-1][2] == hi
        assert all(a[2] == b[1] for a, b in zip(segs, segs[1:]))
        for step, a, b in segs:
            assert step in spans or step == ROLLUP_BUCKET
            assert (a - datetime(2000, 1, 1, tzinfo=timezone.utc)) % step == timedelta(0)
            assert (b - a) % step == timedelta(0) and b > a
    month = rollup_segments(t, t + timedelta(days=30), spans)
    assert max(s[0] for s in month) == timedelta(days=7)
    assert len(month) < 20  # the widest buckets that fit, not 30 days of narrow ones


@pytest.fixture
def spread(db_url, settings, conn):
    """3,000 events over 20 days: 4 cameras (cells), 3 kinds, 2 wards and none."""
    import random
    upsert_cameras(conn, CAMERAS, tag=False)
    conn.commit()
    rng = random.Random(5)
    now = datetime.now(timezone.utc)
    sent = [event(0, camera=f"cam-{i % 4}", kind=KINDS[i % 3], track_id=i,
                  lon=LON + 0.004 * (i % 4), ward_id=("w1", "w2", None)[i % 5 % 3],
                  ts=now - timedelta(seconds=rng.uniform(60, 20 * 86400)),
                  value=float(rng.randrange(20))) for i in range(3000)]
    with EventWriter(db_url, settings) as w:
        w.submit_many(sent[:1200])
        assert w.flush(20)
        refresh_rollups(conn)
        w.submit_many(sent[1200:2000])  # folded into the same buckets: the upserts add up
        assert w.flush(20)
        refresh_rollups(conn)
        w.submit_many(sent[2000:])  # these stay in the tail
        assert w.flush(20)
    return sent, now


def test_span_rollups_equal_events(spread, conn):
    from store.readers import CELL_SPANS, KIND_SPANS
    refresh_rollups(conn)
    for table, spans, keys in (("heatmap_cell_span", CELL_SPANS, "ward_id, cell_id"),
                               ("heatmap_kind_span", KIND_SPANS, "kind, ward_id, cell_id")):
        kept = [r[0] for r in conn.execute(f"SELECT DISTINCT span FROM {table} ORDER BY 1")]
        assert kept == list(spans)
        for span in spans:
            got = conn.execute(
                f"SELECT bucket, {keys}, n, value_sum, value_max FROM {table}"
                f" WHERE span = %s ORDER BY bucket, {keys}", (span,)).fetchall()
            want = conn.execute(
                f"SELECT date_bin(%s, ts, '2000-01-01') AS bucket, {keys}, count(*),"
                f" sum(value), max(value) FROM events WHERE cell_id IS NOT NULL"
                f" GROUP BY bucket, {keys} ORDER BY bucket, {keys}", (span,)).fetchall()
            assert got == want, (table, span)


def _windows(now, seed, count, longest_days, *extra):
    """The last 30 days, 7 days and 5 hours, ``extra``, and ``count`` random windows of
    10 minutes to ``longest_days`` whose edges fall inside 15-minute buckets."""
    rng = random.Random(seed)
    windows = [(now - timedelta(days=30), now), (now - timedelta(days=7, hours=5), now),
               *extra]
    for _ in range(count):
        a = now - timedelta(seconds=rng.uniform(0, 20 * 86400))
        windows.append((a, a + timedelta(seconds=rng.uniform(600, longest_days * 86400))))
    return windows


@pytest.mark.parametrize("kinds, wards", [(None, None), (["intrusion"], None),
                                          (None, ["w2"]), (["crowd_sample"], ["w1"]),
                                          (["intrusion", "person_count"], ["w1", "w2"])])
def test_heatmap_levels_agree_with_events(spread, conn, kinds, wards):
    sent, now = spread
    for a, b in _windows(now, 7, 10, 12):
        got = {c.cell_id: (c.n, c.value_sum, c.value_max)
               for c in heatmap_cells(conn, a, b, kinds=kinds, ward_ids=wards)}
        want = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
            "SELECT cell_id, count(*), sum(value), max(value) FROM events"
            " WHERE ts >= date_bin('15 minutes', %s::timestamptz, '2000-01-01')"
            " AND ts < date_bin('15 minutes', %s::timestamptz - interval '1 microsecond',"
            " '2000-01-01') + interval '15 minutes'"
            " AND (%s::text[] IS NULL OR kind = ANY(%s))"
            " AND (%s::text[] IS NULL OR ward_id = ANY(%s)) GROUP BY 1",
            (a, b, kinds, kinds, wards, wards))}
        assert got and got == want


@pytest.mark.parametrize("scope, ward_ids", [(None, ()), (frozenset({"w1", "w2"}), ("w2",))])
def test_ward_counts_agree_with_events(spread, conn, scope, ward_ids):
    from store.webqueries import ward_counts
    sent, now = spread
    refresh_rollups(conn)
    for a, b in _windows(now, 9, 6, 12):
        got = {(c["ward_id"], c["kind"]): c["n"]
               for c in ward_counts(conn, a, b, scope, ward_ids)}
        want = dict(((w, k), n) for w, k, n in conn.execute(
            "SELECT ward_id, kind, count(*) FROM events"
            " WHERE date_bin('15 minutes', ts, '2000-01-01') >= %s"
            " AND date_bin('15 minutes', ts, '2000-01-01') < %s"
            " AND (%s::text[] IS NULL OR ward_id = ANY(%s))"
            " AND (cardinality(%s::text[]) = 0 OR ward_id = ANY(%s)) GROUP BY 1, 2",
            (a, b, *[None if scope is None else sorted(scope)] * 2, list(ward_ids),
             list(ward_ids))))
        assert got and got == want


def test_ward_kind_span_equals_events(spread, conn):
    from store.readers import SERIES_SPANS
    refresh_rollups(conn)
    kept = [r[0] for r in conn.execute("SELECT DISTINCT span FROM ward_kind_span ORDER BY 1")]
    assert kept == list(SERIES_SPANS)
    for span in SERIES_SPANS:
        got = conn.execute(
            "SELECT bucket, ward_id, kind, n, value_sum, value_max FROM ward_kind_span"
            " WHERE span = %s ORDER BY 1, 2, 3", (span,)).fetchall()
        want = conn.execute(
            "SELECT date_bin(%s, ts, '2000-01-01') AS b, ward_id, kind, count(*),"
            " sum(value), max(value) FROM events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (span,)).fetchall()
        assert got == want, span


def _series_windows(now, seed):
    """The ward series' windows: those of :func:`_windows` and one of 21 hours whose
    edges fall inside 15-minute buckets."""
    return _windows(now, seed, 5, 9, (now - timedelta(hours=24, minutes=7),
                                      now - timedelta(hours=3, seconds=1)))


@pytest.mark.parametrize("bucket", [timedelta(minutes=15), timedelta(hours=1),
                                    timedelta(hours=2), timedelta(days=1)])
@pytest.mark.parametrize("kinds, wards", [(None, None), (["intrusion"], ["w1"]),
                                          (["crowd_sample", "person_count"], None)])
@pytest.mark.parametrize("rolled", [False, True])
def test_ward_series_agrees_with_events(spread, conn, bucket, kinds, wards, rolled):
    """From the span rollups (and the tail not yet rolled up) as from events: buckets
    from the one holding ``start`` to the 15-minute bucket holding ``end``."""
    sent, now = spread
    if rolled:
        refresh_rollups(conn)
    for a, b in _series_windows(now, 13):
        got = [(p.bucket, p.ward_id, p.n, p.value_sum, p.value_max)
               for p in ward_series(conn, a, b, bucket=bucket, ward_ids=wards, kinds=kinds)]
        want = conn.execute(
            "SELECT date_bin(%(b)s, ts, '2000-01-01'), ward_id, count(*), sum(value),"
            " max(value) FROM events WHERE ts >= date_bin(%(b)s, %(lo)s, '2000-01-01')"
            " AND ts < date_bin('15 minutes', %(hi)s - interval '1 microsecond',"
            " '2000-01-01') + interval '15 minutes'"
            " AND (%(k)s::text[] IS NULL OR kind = ANY(%(k)s))"
            " AND (%(w)s::text[] IS NULL OR ward_id = ANY(%(w)s))"
            " GROUP BY 1, 2 ORDER BY 2, 1",
            {"b": bucket, "lo": a, "hi": b, "k": kinds, "w": wards}).fetchall()
        assert got and got == want, (a, b)


@pytest.mark.parametrize("bucket", ["15min", "hour", "day"])
@pytest.mark.parametrize("kinds", [(), ("intrusion", "crowd_sample")])
def test_api_ward_series_agrees_with_events(spread, conn, bucket, kinds):
    """What GET /api/v1/wards/{id}/series returns: 15-minute rollup buckets that start
    in [since, until), per bucket and kind, one ward."""
    from store.webqueries import ward_series as api_series
    sent, now = spread
    refresh_rollups(conn)
    step = {"15min": "15 minutes", "hour": "1 hour", "day": "1 day"}[bucket]
    for a, b in _series_windows(now, 17):
        got = [(s["t"], s["kind"], s["n"]) for s in api_series(conn, "w2", a, b, bucket, kinds)]
        want = [(t.isoformat(), k, n) for t, k, n in conn.execute(
            "SELECT date_bin(%(s)s::interval, ts, '2000-01-01'), kind, count(*) FROM events"
            " WHERE ward_id = 'w2' AND date_bin('15 minutes', ts, '2000-01-01') >= %(a)s"
            " AND date_bin('15 minutes', ts, '2000-01-01') < %(b)s"
            " AND (cardinality(%(k)s::text[]) = 0 OR kind = ANY(%(k)s))"
            " GROUP BY 1, 2 ORDER BY 1, 2", {"s": step, "a": a, "b": b, "k": list(kinds)})]
        assert got and got == want, (a, b)
