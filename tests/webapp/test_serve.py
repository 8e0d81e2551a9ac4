"""`vigil serve` in a real subprocess: migrates, prints a working login once, serves the
API and the kiosk URL, keeps the login across restarts, and stops cleanly on SIGINT."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from store.settings import REPO_ROOT


class Serve:
    """`vigil serve --port 0` with its output collected."""

    def __init__(self, db_url: str, state_dir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(VIGIL_DATABASE_URL=db_url, VIGIL_STATE_DIR=str(state_dir),
                   PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--port", "0"],
                                     cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} in output:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=30)
        self.reader.join(10)
        return code


def _sign_in(url: str, password: str) -> int:
    request = urllib.request.Request(
        f"{url}/api/v1/session", method="POST",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _rollups_follow(db_url: str) -> None:
    """serve keeps the heatmap rollups up to date (store.maintenance.Maintainer)."""
    import psycopg
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO events (ts, camera_id, kind, lon, lat, ward_id, cell_id) "
                     "VALUES (now(), 'c', 'fight', 104.0, 10.2, 'w', 1)")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM heatmap_rollup").fetchone()[0]:
                return
            time.sleep(0.5)
    raise AssertionError("the rollups were not refreshed within 30 s")


def test_serve_prints_a_working_login_and_stops_cleanly(db_url: str, tmp_path: Path) -> None:
    serve = Serve(db_url, tmp_path / "state")
    try:
        url = serve.wait_for(r"vigil map application on (http://127\.0\.0\.1:\d+)/")[1]
        password = serve.wait_for(r"password '([^']+)'")[1]
        wall = serve.wait_for(r"map wall:\s+(\S+)")[1]
        assert _sign_in(url, password) == 200
        assert _sign_in(url, password + "x") == 401
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(wall, timeout=10) as page:               # token → session → page
            assert page.status == 200 and page.url.endswith("/wall")
        with opener.open(f"{url}/api/v1/cameras", timeout=10) as response:
            assert json.load(response)["type"] == "FeatureCollection"
        _rollups_follow(db_url)
    finally:
        assert serve.stop() == 0
    assert "stopping" in serve.lines, serve.lines[-5:]

    again = Serve(db_url, tmp_path / "state")                     # the login is kept
    try:
        url = again.wait_for(r"vigil map application on (http://127\.0\.0\.1:\d+)/")[1]
        again.wait_for(r"logins: ")
        assert not any("password" in line for line in again.lines)
        assert _sign_in(url, password) == 200
    finally:
        assert again.stop() == 0
