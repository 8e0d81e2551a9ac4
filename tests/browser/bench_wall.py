"""Map wall benchmark (prints figures; not a test): first paint and JS heap over time.

    .venv/bin/python -m tests.browser.bench_wall                 # 2,300 cameras, 10 min
    .venv/bin/python -m tests.browser.bench_wall --minutes 2 --rate 5 --runs 5

Starts its own embedded PostgreSQL in a temporary directory, loads Thanh Hóa's shipped
(approximate) wards and zones, scatters ``--cameras`` cameras over them, stores six
hours of alert history through the real writer, serves the real app on a loopback port
and drives Debian's Chromium:

1. **First paint**: ``--runs`` fresh page loads of ``/wall``; for each, milliseconds from
   navigation start to the first contentful paint and to the moment every camera marker
   is drawn (the page's ``vigil-cameras-drawn`` performance mark). Goal ≤ 2,000 ms.
2. **Heap**: one wall left open while alerts are stored at ``--rate`` per second for
   ``--minutes``; every ``--sample-s`` seconds a full GC (DevTools protocol) and the used
   JS heap, DOM node count and pin count are printed. The least-squares slope over the
   second half says whether the heap trends up.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import shapely

from gis.boundaries import load_shipped
from store.areas import replace_wards, replace_zones, retag_cameras
from store.db import connect, open_database
from store.migrate import upgrade
from store.model import EVENT_KINDS, GeoEvent
from store.readers import refresh_heatmap
from store.settings import load_settings
from store.writer import EventWriter
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, WALL_TOKEN, Site, screenshot

ALERT_KINDS = [k for k, spec in EVENT_KINDS.items() if spec.is_alert
               and not k.startswith("camera_")]
STATUSES = ["online"] * 92 + ["offline"] * 5 + ["tampered"] * 3


def seed(conn, n_cameras: int, rng: random.Random) -> list[tuple[str, float, float]]:
    """Thanh Hóa's wards and zones, ``n_cameras`` cameras inside the wards; the cameras."""
    wards, zones = load_shipped("thanh-hoa")
    replace_wards(conn, wards, "thanh-hoa")
    replace_zones(conn, zones, "thanh-hoa")
    area = shapely.union_all(list(wards.geometry))
    minx, miny, maxx, maxy = area.bounds
    cameras = []
    while len(cameras) < n_cameras:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if area.contains(shapely.Point(lon, lat)):
            cameras.append((f"th-{len(cameras):04d}", lon, lat))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO cameras (id, name, lon, lat, heading_deg, fov_deg, range_m, status) "
            "VALUES (%s, %s, %s, %s, %s, 90, 60, %s)",
            [(cid, f"Camera {cid} <đường>", lon, lat, rng.uniform(0, 360), rng.choice(STATUSES))
             for cid, lon, lat in cameras])
    retag_cameras(conn)
    return cameras


def alert(cameras, rng: random.Random, ts: datetime | None = None) -> GeoEvent:
    """A random alert near a random camera."""
    cid, lon, lat = rng.choice(cameras)
    kind = rng.choice(ALERT_KINDS)
    return GeoEvent(ts=ts or datetime.now(timezone.utc), camera_id=cid, kind=kind,
                    lon=lon + rng.uniform(-4e-4, 4e-4), lat=lat + rng.uniform(-4e-4, 4e-4),
                    severity=EVENT_KINDS[kind].severity)


def first_paint(browser, site: Site, runs: int) -> None:
    """Print first contentful paint and cameras-drawn times of ``runs`` page loads."""
    print(f"\nfirst paint of /wall ({runs} loads, 1920x1080)")
    print(f"{'load':>4} {'FCP ms':>8} {'cameras drawn ms':>17} {'cameras':>8}")
    drawn = []
    for run in range(runs):
        context = browser.new_context(viewport={"width": 1920, "height": 1080},
                                      timezone_id="Asia/Ho_Chi_Minh")
        page = context.new_page()
        # the kiosk token signs the context in; the timed load is a plain /wall
        page.goto(f"{site.url}/wall?token={WALL_TOKEN}")
        page.wait_for_selector("body[data-ready='true']", timeout=60_000)
        page.goto(f"{site.url}/wall")
        page.wait_for_selector("body[data-ready='true']", timeout=60_000)
        marks = page.evaluate("""() => ({
            fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
            drawn: performance.getEntriesByName('vigil-cameras-drawn')[0].startTime,
            cameras: Number(document.body.dataset.cameras)})""")
        drawn.append(marks["drawn"])
        if run == 0:
            page.wait_for_timeout(3000)     # heatmaps and pins of the history
            print(f"screenshot: {screenshot(page, 'bench-wall-2300')}")
        print(f"{run + 1:>4} {marks['fcp'] or float('nan'):>8.0f} {marks['drawn']:>17.0f} "
              f"{marks['cameras']:>8}")
        context.close()
    print(f"cameras drawn: median {statistics.median(drawn):.0f} ms, "
          f"max {max(drawn):.0f} ms (goal ≤ 2000 ms)")


def heap_trend(browser, site: Site, writer: EventWriter, cameras, minutes: float,
               rate: float, sample_s: float, rng: random.Random) -> None:
    """Print the wall's JS heap while alerts arrive, and whether it trends up."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.goto(f"{site.url}/wall?token={WALL_TOKEN}")
    page.wait_for_selector("body[data-ready='true'][data-subscribed='true']", timeout=60_000)
    cdp = context.new_cdp_session(page)
    cdp.send("HeapProfiler.enable")
    stop = threading.Event()
    sent = [0]

    def produce() -> None:
        period = 1.0 / rate
        next_at = time.monotonic()
        while not stop.is_set():
            writer.submit(alert(cameras, rng))
            sent[0] += 1
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    print(f"\nJS heap of /wall with {rate:g} alerts/s for {minutes:g} min "
          f"(full GC before each sample)")
    print(f"{'t s':>6} {'heap MB':>8} {'DOM nodes':>10} {'pins':>5} {'alerts sent':>12} "
          f"{'last id drawn':>14}")
    samples = []
    start = time.monotonic()
    try:
        while time.monotonic() - start < minutes * 60:
            time.sleep(min(sample_s, max(0.0, minutes * 60 - (time.monotonic() - start))))
            cdp.send("HeapProfiler.collectGarbage")
            used = cdp.send("Runtime.getHeapUsage")["usedSize"] / 1e6
            dom = page.evaluate("""() => ({nodes: document.getElementsByTagName('*').length,
                pins: document.querySelectorAll('.vigil-pin').length,
                last: document.body.dataset.lastEventId})""")
            t = time.monotonic() - start
            samples.append((t, used))
            print(f"{t:>6.0f} {used:>8.2f} {dom['nodes']:>10} {dom['pins']:>5} {sent[0]:>12} "
                  f"{dom['last']:>14}", flush=True)
    finally:
        stop.set()
        producer.join(timeout=5)
        context.close()
    half = samples[len(samples) // 2:]
    if len(half) >= 3:
        t, mb = np.array(half).T
        slope = np.polyfit(t / 60.0, mb, 1)[0]
        span = (t[-1] - t[0]) / 60.0
        growth = slope * span
        verdict = "trends UP" if growth > 0.05 * mb.mean() and growth > 0.5 else "no upward trend"
        print(f"heap over the second half: mean {mb.mean():.2f} MB, slope "
              f"{slope * 1000:+.1f} KB/min ({growth:+.2f} MB over {span:.1f} min): {verdict}")
    else:
        print("too few samples for a trend (raise --minutes or lower --sample-s)")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=2300)
    parser.add_argument("--history", type=int, default=600,
                        help="alerts stored over the last 6 h before the page loads")
    parser.add_argument("--runs", type=int, default=5, help="first-paint page loads")
    parser.add_argument("--minutes", type=float, default=10.0, help="heap phase duration")
    parser.add_argument("--rate", type=float, default=5.0, help="alerts per second")
    parser.add_argument("--sample-s", type=float, default=30.0, help="heap sample period")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no line per request
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-wall-") as tmp:
        Path(tmp).chmod(0o711)
        settings = load_settings({"state_dir": Path(tmp) / "state"}, environ={})
        with open_database(settings) as url:
            upgrade(url)
            with connect(url) as conn, EventWriter(url, settings) as writer:
                conn.autocommit = True
                t0 = time.monotonic()
                cameras = seed(conn, args.cameras, rng)
                now = datetime.now(timezone.utc)
                for _ in range(args.history):
                    writer.submit(alert(cameras, rng, now - timedelta(
                        seconds=rng.uniform(0, 6 * 3600))))
                writer.flush(timeout=60)
                refresh_heatmap(conn)
                print(f"seeded {len(cameras)} cameras and {args.history} alerts in "
                      f"{time.monotonic() - t0:.1f} s")
                site = Site(settings, url, conn, writer)
                site.start()
                try:
                    with sync_playwright() as p:
                        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                                    headless=True, args=CHROMIUM_ARGS)
                        try:
                            first_paint(browser, site, args.runs)
                            heap_trend(browser, site, writer, cameras, args.minutes,
                                       args.rate, args.sample_s, rng)
                        finally:
                            browser.close()
                finally:
                    site.stop()


if __name__ == "__main__":
    main()
