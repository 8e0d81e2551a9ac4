"""`vigil demo` end to end: a real subprocess with its own state directory.

It starts the embedded PostgreSQL, loads Phú Quốc, backfills history, runs the real
analytics worker on vtest.avi and the simulator, serves the map; the printed login works,
events land, and SIGINT stops everything with no postgres or worker process left behind.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from store.settings import REPO_ROOT
from webapp.demo.media import SAMPLE_CLIP_PATHS

pytestmark = pytest.mark.slow


@pytest.fixture
def state_dir():
    """A short, private state directory the database's user (when root runs) can enter."""
    path = Path(tempfile.mkdtemp(prefix="vigil-demo-", dir="/tmp"))
    path.chmod(0o711)
    yield path / "s"
    shutil.rmtree(path, ignore_errors=True)


class DemoProcess:
    """`vigil demo` in a subprocess; its output collected line by line."""

    def __init__(self, state_dir: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("VIGIL_")}          # the embedded database, not CI's
        env["VIGIL_STATE_DIR"] = str(state_dir)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "demo", "--port", "0",
             "--state-dir", str(state_dir), *args],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8")
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.output)
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.2)
                m = re.search(pattern, self.output)
                if m:
                    return m
                raise AssertionError(f"demo exited ({self.proc.returncode}):\n{self.output}")
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.output}")

    def stop(self, timeout: float = 90) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self._reader.join(5)


class Browser:
    """A cookie-keeping HTTP client."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()))

    def request(self, path: str, body: dict | None = None, method: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str, body: dict | None = None) -> dict:
        status, raw = self.request(path, body)
        assert status == 200, (path, status, raw[:300])
        return json.loads(raw)


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _live_events(base: str, token: str, seconds: float) -> list[dict]:
    """Events a kiosk's Socket.IO connection receives live within ``seconds``."""
    import socketio
    got: list[dict] = []
    client = socketio.Client()
    client.on("geo_events", lambda data: got.extend(data["events"]))
    client.connect(base.rstrip("/"), auth={"token": token}, transports=["websocket"])
    try:
        ack = client.call("subscribe", {"after_id": None}, timeout=10)
        assert ack["room"] == "redacted:wards:all"  # the wall gets no plates or person ids
        deadline = time.monotonic() + seconds
        while not got and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        client.disconnect()
    return got


def _sign_in(demo: DemoProcess) -> tuple[Browser, str]:
    m = demo.wait_for(r"Map \(commander\):\s+(http://127\.0\.0\.1:(\d+)/)", 240)
    base = m.group(1)
    login = demo.wait_for(r"Login:\s+user (\S+)\s+password (\S+)", 5)
    browser = Browser(base)
    status, _ = browser.request("/api/v1/cameras")
    assert status == 401                                   # nothing without signing in
    bad = browser.request("/api/v1/session", {"username": login.group(1), "password": "x"})
    assert bad[0] == 401
    me = browser.json("/api/v1/session", {"username": login.group(1),
                                          "password": login.group(2)})
    assert me["user"]["name"] == login.group(1)
    return browser, base


@pytest.mark.skipif(not any(p.exists() for p in SAMPLE_CLIP_PATHS),
                    reason="Debian's opencv-doc (vtest.avi) is not installed")
def test_demo_runs_real_workers_and_simulator_and_stops_cleanly_on_sigint(state_dir):
    state = state_dir
    demo = DemoProcess(state, "--history-hours", "2", "--duration", "600")
    try:
        browser, base = _sign_in(demo)
        cameras = browser.json("/api/v1/cameras")["features"]
        assert len(cameras) == 41
        assert all(f["properties"].get("ward_id") for f in cameras)

        # the printed wall URL signs a kiosk in
        wall = demo.wait_for(r"Map wall \(kiosk\):\s+(\S+)", 5).group(1)
        kiosk = Browser(base)
        status, page = kiosk.request(wall[len(base) - 1:])
        assert status == 200 and b"<html" in page.lower()
        assert kiosk.json("/api/v1/session")["user"]["role"] == "wall"

        # history is there, labelled simulated
        history = browser.json("/api/v1/events?limit=1000")["events"]
        assert len(history) > 100
        assert all(e["attributes"].get("simulated") is True for e in history
                   if e["camera_id"] not in ("pq-night_market-2", "pq-night_market-4",
                                             "pq-ho_chi_minh_square-1"))
        first_top = max(e["id"] for e in history)

        # live events land (simulator every second; the real worker within a minute)
        deadline = time.monotonic() + 150
        real = []
        newer = []
        tracked = []
        while time.monotonic() < deadline and not (tracked and newer):
            time.sleep(3)
            recent = browser.json("/api/v1/events?limit=1000&hours=1")["events"]
            newer = [e for e in recent if e["id"] > first_top]
            real = [e for e in recent if not e["attributes"].get("simulated")]
            tracked = [e for e in real if e["track_id"] is not None]
        assert newer, demo.output
        assert real, f"no event from the real worker:\n{demo.output}"
        assert {e["camera_id"] for e in real} <= {"pq-night_market-2", "pq-night_market-4",
                                                   "pq-ho_chi_minh_square-1"}
        # real detections are geotagged through the homography: on the street in front of
        # the camera, not at the camera itself
        where = {f["properties"]["id"]: f["geometry"]["coordinates"] for f in cameras}
        assert tracked, real
        for e in tracked:
            lon, lat = where[e["camera_id"]]
            dx = (e["lon"] - lon) * 111_320 * math.cos(math.radians(lat))
            dy = (e["lat"] - lat) * 111_320
            assert 3 < math.hypot(dx, dy) < 80, e
        worker_pids = [int(p) for p in re.findall(r"analytics worker \(pid (\d+)",
                                                  demo.output)]
        assert worker_pids and all(_alive(p) for p in worker_pids)
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert "stopped cleanly" in demo.output
    out = demo.output
    # reverse order: web, then simulator, then workers, then writer, then database
    order = [out.index(s) for s in ("web server stopped", "simulator stopped",
                                    "analytics workers stopped", "event writer flushed",
                                    "database stopped")]
    assert order == sorted(order), out
    assert _processes_mentioning(str(state)) == []          # no postgres left
    assert not any(_alive(p) for p in worker_pids)


def test_demo_without_workers_stops_by_itself_after_duration(state_dir):
    state = state_dir
    demo = DemoProcess(state, "--no-workers", "--history-hours", "1", "--duration", "40",
                       "--password", "demo-pass-1")
    try:
        browser, base = _sign_in(demo)
        assert "password demo-pass-1" in demo.output
        health = browser.json("/api/v1/cameras")["features"]
        assert len(health) == 41
        events = browser.json("/api/v1/events?limit=1000")["events"]
        assert events and all(e["attributes"]["simulated"] is True for e in events)
        # the wall's kiosk token opens a live socket; simulated events arrive on it
        token = demo.wait_for(r"/wall\?token=(\S+)", 5).group(1)
        live = _live_events(base, token, seconds=20)
        assert live and all(e["attributes"]["simulated"] is True for e in live)
        code = demo.proc.wait(120)
    finally:
        demo.stop()
    assert code == 0, demo.output
    assert "analytics worker" not in demo.output
    assert _processes_mentioning(str(state)) == []

    # a second run in the same state directory only fills the gap since the first
    again = DemoProcess(state, "--no-workers", "--history-hours", "1", "--duration", "5")
    try:
        m = again.wait_for(r"(\d+) simulated events of history \(([\d.]+) h\)", 240)
        assert float(m.group(2)) < 0.2
        again.wait_for("Map \\(commander\\)", 60)
        assert again.proc.wait(120) == 0
    finally:
        again.stop()
    assert _processes_mentioning(str(state)) == []


def test_thanh_hoa_demo_serves_2300_cameras(state_dir):
    demo = DemoProcess(state_dir, "--province", "thanh-hoa", "--no-workers",
                       "--history-hours", "1", "--duration", "15")
    try:
        browser, _ = _sign_in(demo)
        features = browser.json("/api/v1/cameras")["features"]
        kinds = {}
        for f in features:
            kinds[f["properties"]["kind"]] = kinds.get(f["properties"]["kind"], 0) + 1
        assert len(features) == 2320
        assert kinds == {"ai": 1100, "legacy": 1000, "traffic": 220}
        code = demo.proc.wait(180)
    finally:
        demo.stop()
    assert code == 0, demo.output
    assert _processes_mentioning(str(state_dir)) == []


def test_sigterm_stops_the_demo_in_order(state_dir):
    demo = DemoProcess(state_dir, "--no-workers", "--history-hours", "0")
    try:
        demo.wait_for(r"Ctrl-C stops everything", 240)
        demo.proc.send_signal(signal.SIGTERM)
        code = demo.proc.wait(90)
    finally:
        demo.stop()
    assert code == 0, demo.output
    out = demo.output
    order = [out.index(s) for s in ("web server stopped", "simulator stopped",
                                    "event writer flushed", "database stopped",
                                    "stopped cleanly")]
    assert order == sorted(order), out
    assert _processes_mentioning(str(state_dir)) == []
