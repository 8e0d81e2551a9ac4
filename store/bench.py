"""``vigil bench store``: writer throughput against raw binary COPY, and heatmap latency.

Runs in a scratch database ``vigil_bench`` on the configured server (embedded by
default), dropped and re-made each run:

1. writer: ``--writer-events`` GeoEvents (built beforehand) → ``EventWriter.submit`` →
   flushed and committed; events/s from the first submit to the last commit; then 20
   lone events a quarter second apart, each timed from ``submit`` to its NOTIFY;
2. raw COPY: the same rows as ready-made tuples through psycopg's binary COPY;
3. ``--events`` events over ``--days`` days from ``--cameras`` cameras generated in SQL,
   rolled up, then ``--queries`` heatmap queries per window (random 1 h / 24 h / 7 d /
   30 d windows; every kind, one kind, one ward, one kind in one ward) timed for p50/p95,
   and ward series (``GET /api/v1/wards/{id}/series``: one ward, hourly buckets, 24 h /
   7 d / 30 d windows, every kind or one kind).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from gis.grid import cell_ids
from store.copy_events import COPY_COLUMNS, COPY_SQL, HEADER, TRAILER, TextCache, encode_batch
from store.db import connect, open_database, with_dbname
from store.maintenance import refresh_rollups
from store.migrate import ensure_partitions, fresh_database, upgrade
from store.model import GeoEvent
from store.readers import heatmap_cells
from store.webqueries import ward_series
from store.registry import Camera, upsert_cameras
from store.settings import Settings
from store.writer import EventWriter

BENCH_DB = "vigil_bench"
# Phú Quốc island, roughly: cameras are spread over it, wards are a 5 × 5 grid.
WEST, EAST, SOUTH, NORTH = 103.84, 104.08, 10.00, 10.45
AI_KINDS = ["person_count", "crowd_sample", "intrusion"]
TRAFFIC_KINDS = ["vehicle_count", "red_light", "plate_read"]


def _ward(lon: float, lat: float) -> str:
    col = min(int((lon - WEST) / (EAST - WEST) * 5), 4)
    row = min(int((lat - SOUTH) / (NORTH - SOUTH) * 5), 4)
    return f"bench-w{row}{col}"


def _cameras(n: int, rng: random.Random) -> list[Camera]:
    return [Camera(id=f"bench-{i:04d}", name=f"Bench {i}", kind="traffic" if i % 3 == 0 else "ai",
                   lon=rng.uniform(WEST, EAST), lat=rng.uniform(SOUTH, NORTH))
            for i in range(n)]


def _positions(cams: list[Camera], rng: random.Random) -> list[tuple]:
    """Four ground points per camera within ~60 m, with their cells and wards."""
    pts = [(i, k, c, c.lon + rng.uniform(-6e-4, 6e-4), c.lat + rng.uniform(-6e-4, 6e-4))
           for i, c in enumerate(cams) for k in range(4)]
    cells = cell_ids(np.array([p[3] for p in pts]), np.array([p[4] for p in pts]))
    return [(i, k, c.id, lon, lat, int(cell), _ward(lon, lat),
             TRAFFIC_KINDS if c.kind == "traffic" else AI_KINDS)
            for (i, k, c, lon, lat), cell in zip(pts, cells)]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def bench_writer(url: str, settings: Settings, positions: list[tuple], n: int,
                 echo: Callable[[str], None]) -> tuple[float, float, float]:
    """(writer events/s, raw COPY events/s, server-alone rows/s) for the same ``n`` rows."""
    now = datetime.now(timezone.utc) - timedelta(minutes=30)
    rng = random.Random(7)
    events = []
    for j in range(n):
        i, k, cam, lon, lat, cell, ward, kinds = positions[rng.randrange(len(positions))]
        events.append(GeoEvent(ts=now + timedelta(microseconds=j * 1000), camera_id=cam,
                               kind=kinds[j % 3], lon=lon, lat=lat, ward_id=ward,
                               track_id=j, value=float(j % 40)))
    writer = EventWriter(url, settings)
    t0 = time.perf_counter()
    submit = writer.submit
    for e in events:
        submit(e)
    ok = writer.flush(600)
    t_writer = time.perf_counter() - t0
    stats = writer.stats
    writer.close()
    if not ok or stats.stored != n:
        raise RuntimeError(f"writer stored {stats.stored} of {n} (rejected {stats.rejected})")
    echo(f"writer: {n:,} events in {t_writer:.2f} s = {n / t_writer:,.0f} events/s "
         f"({stats.batches} batches)")
    rows = [(e.ts, e.lon, e.lat, int(e.severity), None, e.camera_id, e.kind, e.ward_id,
             e.zone_id, e.track_id, e.value, Jsonb({}), None, None) for e in events]
    cells = cell_ids(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
    rows = [r[:4] + (int(c),) + r[5:] for r, c in zip(rows, cells.tolist())]
    types = ["timestamptz", "float8", "float8", "int2", "int8", "text", "text", "text",
             "text", "int8", "float8", "jsonb", "text", "text"]
    with connect(url) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                f"COPY events ({', '.join(COPY_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for r in rows:
                copy.write_row(r)
        conn.commit()
        t_copy = time.perf_counter() - t0
    echo(f"raw binary COPY: {n:,} rows in {t_copy:.2f} s = {n / t_copy:,.0f} rows/s")
    echo(f"writer / raw COPY = {t_copy / t_writer:.0%}")
    # Where the writer's time goes: its Python side (validation, grid cells, encoding)
    # alone, and the server alone (the writer's encoded bytes, COPYed with no Python
    # work per row: the ceiling any client reaches with this schema and machine).
    cams = frozenset(e.camera_id for e in events)
    texts = TextCache()
    step = settings.writer_batch_rows * 20
    t0 = time.perf_counter()
    payloads = [encode_batch(events[i:i + step], cams, None, texts).payload
                for i in range(0, n, step)]
    t_encode = time.perf_counter() - t0
    echo(f"writer encoding alone (no database): {n / t_encode:,.0f} events/s")
    with connect(url) as conn:
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
            copy.write(HEADER)
            for p in payloads:
                copy.write(p)
            copy.write(TRAILER)
        conn.commit()
        t_server = time.perf_counter() - t0
    echo(f"server alone, pre-encoded binary COPY: {n / t_server:,.0f} rows/s "
         f"(writer = {t_server / t_writer:.0%} of it)")
    return n / t_writer, n / t_copy, n / t_server


def bench_lone_events(url: str, settings: Settings, positions: list[tuple], n: int,
                      echo: Callable[[str], None]) -> tuple[float, float]:
    """(median, max) ms from ``submit`` of a lone event to its NOTIFY: an alert on a quiet
    camera, the writer idle in between (what live delivery cannot beat)."""
    _, _, cam, lon, lat, _, ward, _ = positions[0]
    listen = psycopg.connect(url, autocommit=True)
    listen.execute("LISTEN vigil_events")
    waits = []
    with EventWriter(url, settings) as writer:
        for j in range(n):
            time.sleep(0.25)  # idle between alerts
            t0 = time.perf_counter()
            writer.submit(GeoEvent(ts=datetime.now(timezone.utc), camera_id=cam,
                                   kind="intrusion", lon=lon, lat=lat, ward_id=ward))
            if next(listen.notifies(timeout=30, stop_after=1), None) is None:
                raise RuntimeError("a lone event was not written within 30 s")
            waits.append((time.perf_counter() - t0) * 1000)
    listen.close()
    median, worst = statistics.median(waits), max(waits)
    echo(f"lone event submit → NOTIFY: median {median:.0f} ms, max {worst:.0f} ms over {n} "
         f"(writer_batch_ms {settings.writer_batch_ms})")
    return median, worst


def generate_events(conn: psycopg.Connection, positions: list[tuple], n: int, days: int,
                    echo: Callable[[str], None]) -> datetime:
    """``n`` events over ``days`` days, generated server-side in time order and rolled up
    chunk by chunk (as live events are); returns the end of the period."""
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(days=days)
    ensure_partitions(conn, start.date(), end.date() + timedelta(days=1))
    conn.execute("CREATE TEMP TABLE bench_pos (cam int, pos int, camera_id text, lon float8,"
                 " lat float8, cell_id bigint, ward_id text, kinds text[])")
    with conn.cursor().copy("COPY bench_pos FROM STDIN") as copy:
        for p in positions:
            copy.write_row(p)
    conn.execute("CREATE INDEX ON bench_pos (cam, pos)")
    conn.commit()
    ncam = len({p[0] for p in positions})
    step = 1_000_000
    rolled, t_roll = 0, 0.0
    t0 = time.perf_counter()
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        conn.execute(
            "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id, track_id,"
            " value, cell_id)"
            " SELECT %(start)s + (g + random() * 1000) / %(n)s * %(span)s, p.camera_id,"
            " p.kinds[1 + g %% 3],"
            " (g %% 4)::smallint, p.lon, p.lat, p.ward_id, g, (random() * 50)::int, p.cell_id"
            " FROM generate_series(%(lo)s::bigint, %(hi)s::bigint - 1) g"
            " JOIN bench_pos p ON p.cam = (g * 7919) %% %(ncam)s AND p.pos = (g / %(ncam)s) %% 4",
            {"start": start, "span": end - start, "lo": lo, "hi": hi, "ncam": ncam,
             "n": n + 1000})
        conn.commit()
        # Rolled up as it goes, as the maintainer does with live events.
        t1 = time.perf_counter()
        rolled += refresh_rollups(conn)
        t_roll += time.perf_counter() - t1
        echo(f"  generated and rolled up {hi:,} events ({time.perf_counter() - t0:.0f} s)")
    if rolled:
        echo(f"rollup refresh (what the maintainer does): {rolled:,} events in {t_roll:.1f} s"
             f" = {rolled / t_roll:,.0f} events/s")
    conn.execute("ANALYZE events")
    conn.commit()
    return end


HEATMAP_WINDOWS = (("1 h", timedelta(hours=1)), ("24 h", timedelta(hours=24)),
                   ("7 d", timedelta(days=7)), ("30 d", timedelta(days=30)))
HEATMAP_FILTERS = ("every kind", "one kind", "one ward", "kind+ward")
ROLLUP_TABLES = ("heatmap_rollup", "heatmap_cell_span", "heatmap_kind_span",
                 "ward_kind_span")
SERIES_WINDOWS = HEATMAP_WINDOWS[1:]
SERIES_FILTERS = ("every kind", "one kind")


def bench_heatmap(conn: psycopg.Connection, end: datetime, days: int, queries: int,
                  wards: list[str], echo: Callable[[str], None]) -> dict[str, tuple]:
    """p50/p95 (ms) of heatmap queries per window length and filter: the map's default
    heatmap (every kind and ward), one kind, one ward, and one kind in one ward."""
    rng = random.Random(11)
    results = {}
    for label, window in HEATMAP_WINDOWS:
        times: dict[str, list[float]] = {f: [] for f in HEATMAP_FILTERS}
        cells = []
        # Windows end anywhere in the period and lie inside it where they fit.
        room = max(days * 86400 - window.total_seconds(), 86400)
        for q in range(queries):
            stop = end - timedelta(seconds=rng.uniform(0, room))
            pick = HEATMAP_FILTERS[q % len(HEATMAP_FILTERS)]
            kinds = [rng.choice(AI_KINDS + TRAFFIC_KINDS)] \
                if pick in ("one kind", "kind+ward") else None
            ward = [rng.choice(wards)] if pick in ("one ward", "kind+ward") else None
            t0 = time.perf_counter()
            found = heatmap_cells(conn, stop - window, stop, kinds=kinds, ward_ids=ward)
            times[pick].append((time.perf_counter() - t0) * 1000)
            cells.append(len(found))
        for pick, values in times.items():
            if not values:
                continue
            p50, p95 = _percentile(values, 50), _percentile(values, 95)
            results[f"{label} {pick}"] = (p50, p95)
            echo(f"heatmap {label:>4} {pick:>10}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                 f"({len(values)} queries)")
        echo(f"          (median {int(statistics.median(cells))} cells per answer)")
    return results


def bench_series(conn: psycopg.Connection, end: datetime, days: int, queries: int,
                 wards: list[str], echo: Callable[[str], None]) -> dict[str, tuple]:
    """p50/p95 (ms) of one ward's hourly series (what the planner's ward series asks
    for) per window length, every kind or one kind."""
    rng = random.Random(12)
    results = {}
    for label, window in SERIES_WINDOWS:
        times: dict[str, list[float]] = {f: [] for f in SERIES_FILTERS}
        points = []
        room = max(days * 86400 - window.total_seconds(), 86400)
        for q in range(queries):
            stop = end - timedelta(seconds=rng.uniform(0, room))
            pick = SERIES_FILTERS[q % len(SERIES_FILTERS)]
            kinds = [rng.choice(AI_KINDS + TRAFFIC_KINDS)] if pick == "one kind" else []
            t0 = time.perf_counter()
            found = ward_series(conn, rng.choice(wards), stop - window, stop, "hour", kinds)
            times[pick].append((time.perf_counter() - t0) * 1000)
            points.append(len(found))
        for pick, values in times.items():
            p50, p95 = _percentile(values, 50), _percentile(values, 95)
            results[f"{label} {pick}"] = (p50, p95)
            echo(f"ward series {label:>4} {pick:>10}: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                 f"({len(values)} queries)")
        echo(f"          (median {int(statistics.median(points))} points per answer)")
    return results


def _vacuum_rollups(url: str) -> None:
    """What the maintainer's hourly round does, so index-only scans are index-only."""
    with connect(url, autocommit=True) as auto:
        for table in ROLLUP_TABLES:
            auto.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def _bench_end(conn: psycopg.Connection) -> datetime:
    return conn.execute("SELECT max(bucket) + interval '15 minutes' FROM heatmap_rollup"
                        ).fetchone()[0]


def run_bench(settings: Settings, n_events: int, writer_events: int, cameras: int,
              days: int, queries: int, echo: Callable[[str], None] = print,
              heatmap_only: bool = False) -> dict:
    """Run the whole benchmark (or only the heatmap queries on the last run's data)."""
    load = os.getloadavg()
    echo(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
         f"{load[2]:.2f}")
    rng = random.Random(3)
    cams = _cameras(cameras, rng)
    positions = _positions(cams, rng)
    wards = sorted({p[6] for p in positions})
    with open_database(settings) as admin_url:
        if heatmap_only:
            url = with_dbname(admin_url, BENCH_DB)
            upgrade(url)
            _vacuum_rollups(url)
            with connect(url) as conn:
                n = conn.execute("SELECT sum(n) FROM heatmap_cell_span"
                                 " WHERE span = '7 days'").fetchone()[0] or 0
                echo(f"reusing {BENCH_DB}: {n:,} events rolled up")
                heat = bench_heatmap(conn, _bench_end(conn), days, queries, wards, echo)
                series = bench_series(conn, _bench_end(conn), days, queries, wards, echo)
            return {"heatmap_ms": heat, "series_ms": series}
        url = fresh_database(admin_url, BENCH_DB)
        with connect(url) as conn:
            upsert_cameras(conn, cams, tag=False)
            layout = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension"
                                  " WHERE extname = 'timescaledb')").fetchone()[0]
            echo("layout: " + ("TimescaleDB hypertable" if layout else "native partitions")
                 + f"; server {conn.info.server_version}")
        writer_rate, copy_rate, server_rate = bench_writer(url, settings, positions, writer_events, echo)
        lone = bench_lone_events(url, settings, positions, 20, echo)
        with connect(url) as conn:
            conn.execute(sql.SQL("TRUNCATE events, {}").format(
                sql.SQL(", ").join(map(sql.Identifier, ROLLUP_TABLES))))
            conn.execute("UPDATE rollup_state SET last_event_id = 0")
            conn.commit()
            echo(f"generating {n_events:,} events over {days} days from {cameras} cameras…")
            t0 = time.perf_counter()
            generate_events(conn, positions, n_events, days, echo)
            echo(f"generated in {time.perf_counter() - t0:.0f} s")
            _vacuum_rollups(url)
            sizes = [conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(t))).fetchone()[0]
                for t in ROLLUP_TABLES]
            echo("rollup rows: {:,} (15 min) / {:,} (cell spans) / {:,} (kind spans) / {:,}"
                 " (ward series spans)".format(*sizes))
            heat = bench_heatmap(conn, _bench_end(conn), days, queries, wards, echo)
            series = bench_series(conn, _bench_end(conn), days, queries, wards, echo)
    return {"writer_eps": writer_rate, "copy_eps": copy_rate, "server_eps": server_rate,
            "lone_event_ms": lone, "heatmap_ms": heat, "series_ms": series}
