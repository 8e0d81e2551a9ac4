"""`vigil demo` rides out `kill -9` of its embedded PostgreSQL: the database is restarted,
the simulator carries on, and every event it submitted (those of the outage too) is
stored; the demo then stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from tests.demo.test_demo_command import DemoProcess, state_dir  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

WAIT_S = 120.0


def _db(state: Path) -> psycopg.Connection:
    return psycopg.connect(host=str(state / "pg"), user="postgres", dbname="postgres",
                           autocommit=True, connect_timeout=3)


def _count(state: Path, since: datetime | None = None,
           until: datetime | None = None) -> int | None:
    """Simulated events stored (with ts in [since, until]); None while unreachable."""
    try:
        with _db(state) as conn:
            return conn.execute(
                "SELECT count(*) FROM events WHERE ts >= coalesce(%s::timestamptz, "
                "'-infinity') AND ts <= coalesce(%s::timestamptz, 'infinity')",
                (since, until)).fetchone()[0]
    except psycopg.OperationalError:
        return None


def _rolled_up_since(state: Path, since: datetime) -> bool:
    try:
        with _db(state) as conn:
            return bool(conn.execute("SELECT updated_at > %s FROM rollup_state "
                                     "WHERE name = 'heatmap'", (since,)).fetchone()[0])
    except psycopg.OperationalError:
        return False


def _poll(condition, what: str, demo: DemoProcess,  # noqa: ANN001, ANN202
          within_s: float = WAIT_S):
    deadline = time.monotonic() + within_s
    while True:
        result = condition()
        if result:
            return result
        assert demo.proc.poll() is None, f"the demo exited while waiting for {what}:\n" \
                                         + demo.output
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}\n" + demo.output
        time.sleep(0.2)


def test_demo_rides_out_a_killed_database(state_dir: Path) -> None:  # noqa: F811
    demo = DemoProcess(state_dir, "--no-workers", "--history-hours", "0", "--rate", "100")
    try:
        demo.wait_for(r"Ctrl-C stops everything", 240)
        _poll(lambda: _count(state_dir), "the first live events", demo)
        pid_file = state_dir / "pg" / "data" / "postmaster.pid"
        old = int(pid_file.read_text().split("\n")[0])
        killed_at = datetime.now(timezone.utc)
        os.kill(old, signal.SIGKILL)
        _poll(lambda: _count(state_dir) is None, "the database goes away", demo, 10)
        _poll(lambda: _count(state_dir) is not None, "the database answers again", demo)
        back_at = datetime.now(timezone.utc)
        # the simulator carried on: events of the outage and after it arrive
        _poll(lambda: _count(state_dir, since=back_at), "live events after the restart", demo)
        # and its own database work resumed: the next heatmap rollup (every 30 s)
        _poll(lambda: _rolled_up_since(state_dir, back_at), "a rollup after the restart",
              demo)
        during = _count(state_dir, since=killed_at, until=back_at)
        assert demo.proc.poll() is None
        demo.proc.send_signal(signal.SIGINT)
        code = demo.proc.wait(90)
    finally:
        demo.stop()
    out = demo.output
    assert code == 0, out
    assert "the event simulator failed" not in out
    live = int(re.search(r"simulator stopped \((\d+) live events\)", out)[1])
    stored, rejected, overflowed = map(int, re.search(
        r"event writer flushed and closed \((\d+) stored, (\d+) rejected, "
        r"(\d+) overflowed\)", out).groups())
    assert (stored, rejected, overflowed) == (live, 0, 0), out   # none lost
    assert during, f"no event stamped within the outage ({killed_at} – {back_at})"
