"""The embedded PostgreSQL: private state dir, no mode changes outside it, clean stops."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from store.db import open_database
from store.embedded import EmbeddedPostgres, bin_dir
from store.settings import REPO_ROOT, load_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def state_dir():
    path = Path(tempfile.mkdtemp(prefix="vigil-emb-", dir="/tmp"))
    path.chmod(0o711)
    yield path
    server = EmbeddedPostgres(path)
    if server.postmaster_pid() is not None:  # a failed test must not leave a server
        server.stop(force=True)
    shutil.rmtree(path, ignore_errors=True)


def _modes(paths):
    return {p: (p.stat().st_mode, p.stat().st_uid) for p in paths if p.exists()}


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_no_folder_outside_state_dir_changes_mode(state_dir):
    wheel = bin_dir().parent
    watched = [*state_dir.parents, Path(tempfile.gettempdir()), Path("/run/user"),
               wheel.parent, wheel, *(p for p in wheel.rglob("*") if p.is_dir()),
               Path.home()]
    before = _modes(watched)
    settings = load_settings({"state_dir": state_dir}, environ={})
    with open_database(settings) as url:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        server = EmbeddedPostgres(state_dir)
        pid = server.postmaster_pid()
        assert pid is not None
        uid = os.stat(f"/proc/{pid}").st_uid
        if os.geteuid() == 0:
            assert uid != 0  # the server runs unprivileged
        assert (state_dir / "pg").stat().st_mode & 0o777 == 0o700
        assert "host=%2F" in url  # Unix socket, no TCP
    assert _modes(watched) == before
    assert _gone(pid)


def _child(state_dir: Path, tail: str) -> subprocess.Popen:
    code = ("import sys, time; from pathlib import Path; "
            "from store.embedded import EmbeddedPostgres; "
            f"s = EmbeddedPostgres(Path({str(state_dir)!r})); s.start(); "
            "print(s.postmaster_pid(), flush=True); " + tail)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)


def test_stopped_when_the_process_exits(state_dir):
    child = _child(state_dir, "")
    pid = int(child.stdout.readline())
    assert child.wait(30) == 0
    assert _gone(pid)


def test_stopped_on_sigterm(state_dir):
    child = _child(state_dir, "time.sleep(60)")
    pid = int(child.stdout.readline())
    child.send_signal(signal.SIGTERM)
    assert child.wait(30) == -signal.SIGTERM
    assert _gone(pid)


def test_server_of_killed_owner_is_adopted_and_stopped(state_dir):
    child = _child(state_dir, "time.sleep(60)")
    pid = int(child.stdout.readline())
    child.kill()
    child.wait(10)
    server = EmbeddedPostgres(state_dir)
    assert server.postmaster_pid() == pid  # left behind by the killed process
    server.start()
    assert server.postmaster_pid() == pid  # adopted, not a second server
    server.stop()
    assert _gone(pid)


def test_last_owner_stops_a_shared_server(state_dir):
    child = _child(state_dir, "sys.stdin.readline()")
    pid = int(child.stdout.readline())
    mine = EmbeddedPostgres(state_dir)
    mine.start()
    assert mine.postmaster_pid() == pid
    mine.stop()
    assert mine.postmaster_pid() == pid  # the child still uses it
    child.communicate("\n", timeout=30)
    assert _gone(pid)
