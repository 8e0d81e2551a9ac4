"""The embedded PostgreSQL is restarted when its postmaster is killed, and nothing the
writer was given meanwhile is lost (a private server: the shared test server is not
killed)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from store.db import connect
from store.embedded import EmbeddedPostgres
from store.settings import load_settings
from store.writer import EventWriter
from tests.polling import poll_until
from tests.store.helpers import event, private_server

WAIT_S = 90.0


@pytest.fixture
def supervised() -> Iterator[tuple[EmbeddedPostgres, str, Path]]:
    """A private embedded server started with supervision, migrated, with cameras."""
    with private_server("vigil-sup-", supervise=True) as made:
        yield made


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as c:
            return c.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def _poll(condition, what: str, within_s: float = WAIT_S) -> None:  # noqa: ANN001
    poll_until(condition, what, within_s)


def _tracks(url: str) -> list[int]:
    with connect(url) as c:
        return [r[0] for r in c.execute("SELECT track_id FROM events ORDER BY id")]


def test_killed_server_is_restarted_and_events_of_the_outage_are_stored(supervised) -> None:
    server, url, state = supervised
    settings = load_settings({"database_url": url, "state_dir": state / "w",
                              "writer_batch_rows": 50, "writer_batch_ms": 20}, environ={})
    writer = EventWriter(url, settings)
    try:
        assert writer.submit_many([event(i, track_id=i) for i in range(100)]) == 100
        assert writer.flush(60)
        old = server.postmaster_pid()
        assert old is not None
        os.kill(old, signal.SIGKILL)                   # as an operator's kill -9 would
        _poll(lambda: not _answers(url), "the killed server stops answering", 10)
        during = [event(i, track_id=i) for i in range(100, 300)]
        assert writer.submit_many(during) == len(during)  # while it is down
        _poll(lambda: _answers(url), "the server answers again")
        assert server.postmaster_pid() not in (None, old)
        _poll(lambda: server.restarts == 1, "the restart counted")   # pg_ctl returns after
        assert writer.flush(WAIT_S), "the writer did not deliver after the restart"
        stats = writer.stats
    finally:
        writer.close()
    assert _tracks(url) == list(range(300))            # all, once each, in order
    assert stats.stored == 300


def test_killed_twice_restarted_twice(supervised) -> None:
    server, url, _state = supervised
    for n in (1, 2):
        old = server.postmaster_pid()
        server.kill()
        _poll(lambda: server.postmaster_pid() not in (None, old), f"restart {n}")
        _poll(lambda: _answers(url), f"answers after restart {n}")
        _poll(lambda: server.restarts == n, f"restart {n} counted")


def test_a_stopped_server_is_not_restarted(supervised) -> None:
    server, url, _state = supervised
    server.stop(force=True)
    assert server.postmaster_pid() is None
    assert not server.restart_if_down()       # what the supervisor would do next
    assert not _answers(url)


def test_a_server_killed_unsupervised_is_started_by_the_next_start() -> None:
    """No supervisor (every vigil process was killed too): the next start clears the dead
    server's stale postmaster.pid (here held by a zombie) and starts it."""
    state = Path(tempfile.mkdtemp(prefix="vigil-sup-", dir="/tmp"))
    state.chmod(0o711)
    first = EmbeddedPostgres(state, conf={"fsync": "off"})
    url = first.start()
    try:
        first.kill()
        _poll(lambda: first.postmaster_pid() is None, "the postmaster is dead", 10)
        assert (state / "pg" / "data" / "postmaster.pid").exists()      # left behind
        second = EmbeddedPostgres(state)
        assert second.start() == url
        assert _answers(url)
    finally:
        first.stop(force=True)
        shutil.rmtree(state, ignore_errors=True)


def test_processes_sharing_the_server_restart_it_once(supervised, caplog) -> None:
    """Two supervisors on one state directory (``vigil serve`` and ``vigil workers``):
    the owners lock lets one restart it; the other finds it running."""
    server, url, state = supervised
    other = EmbeddedPostgres(state)
    assert other.start(supervise=True) == url
    try:
        old = server.postmaster_pid()
        server.kill()
        _poll(lambda: server.postmaster_pid() not in (None, old), "the restart")
        _poll(lambda: _answers(url), "answers after the restart")
        _poll(lambda: server.restarts + other.restarts == 1, "one restart counted")
        time.sleep(2.5)            # both supervisors look again (every SUPERVISE_S)
        assert server.restarts + other.restarts == 1
        assert "could not be restarted" not in caplog.text     # no clash between them
    finally:
        other.stop()     # (one pid here: this stops the server, as a last owner would)
