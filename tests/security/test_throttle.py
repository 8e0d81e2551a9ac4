"""Sign-in throttling on a real database: failures counted per user name and address and
per address over a sliding window, shared by every web process, kept across a restart,
old rows swept, lockouts audited."""

from __future__ import annotations

from typing import Any

import pytest

from tests.webapp.web_testing import PASSWORD

THROTTLED_VI = "Đăng nhập sai quá nhiều lần"


def _try(client: Any, name: str, password: str, remote: str = "127.0.0.1") -> Any:
    return client.post("/api/v1/session", json={"username": name, "password": password},
                       environ_base={"REMOTE_ADDR": remote})


def _failures(conn) -> int:  # noqa: ANN001
    return conn.execute("SELECT count(*) FROM sign_in_failures").fetchone()[0]


@pytest.fixture
def throttled(make_app, db_url: str, conn):  # noqa: ANN001, ANN201
    """``throttled()`` builds an app (a web process) allowing 3 failures in 60 s."""
    conn.autocommit = True
    return lambda: make_app(db_url, LOGIN_MAX_FAILURES=3, LOGIN_WINDOW_S=60)


def test_failures_are_shared_by_processes_and_kept_across_a_restart(throttled, conn) -> None:
    first, second = throttled().test_client(), throttled().test_client()
    assert _try(first, "admin", "wrong").status_code == 401
    assert _try(second, "admin", "wrong").status_code == 401
    assert _try(first, "admin", "wrong").status_code == 401         # 3 across 2 processes
    assert _failures(conn) == 3
    restarted = throttled().test_client()
    refused = _try(restarted, "admin", PASSWORD)                      # even the right one
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json["error"]["message"].startswith("too many failed sign-ins")
    assert _try(restarted, "operator", PASSWORD).status_code == 200  # another user name
    assert _try(restarted, "admin", PASSWORD, "10.0.0.9").status_code == 200  # elsewhere


def test_address_count_covers_every_user_name(throttled, conn) -> None:
    client = throttled().test_client()
    for i in range(12):                                   # 4 × 3 names, one failure each
        assert _try(client, f"guess-{i}", "x", "10.0.0.3").status_code == 401
    assert _try(client, "planner", PASSWORD, "10.0.0.3").status_code == 429
    assert _try(client, "planner", PASSWORD, "10.0.0.4").status_code == 200
    form = throttled().test_client()                      # the form says it in Vietnamese
    csrf = form.get("/api/v1/session").json["csrf_token"]
    page = form.post("/login", data={"username": "planner", "password": PASSWORD,
                                     "csrf_token": csrf},
                     environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert THROTTLED_VI in page.get_data(as_text=True)


def test_window_slides_and_old_rows_are_swept(throttled, conn) -> None:
    client = throttled().test_client()
    for _ in range(3):
        assert _try(client, "admin", "wrong").status_code == 401
    # failures 55 s, 30 s and 5 s ago: the lock lifts when the oldest leaves the window
    ids = [r[0] for r in conn.execute("SELECT id FROM sign_in_failures ORDER BY id")]
    for ident, ago in zip(ids, (55, 30, 5)):
        conn.execute("UPDATE sign_in_failures SET at = now() - make_interval(secs => %s) "
                     "WHERE id = %s", (ago, ident))
    refused = _try(client, "admin", PASSWORD)
    assert refused.status_code == 429 and 3 <= int(refused.headers["Retry-After"]) <= 6
    conn.execute("UPDATE sign_in_failures SET at = at - interval '10 seconds'")
    assert _try(client, "admin", "wrong").status_code == 401        # oldest left: 2 + 1
    assert _try(client, "admin", PASSWORD).status_code == 429       # locked again
    conn.execute("UPDATE sign_in_failures SET at = at - interval '2 hours'")
    assert _try(client, "operator", "wrong").status_code == 401     # sweeps the old rows
    assert _failures(conn) == 1
    assert _try(client, "admin", PASSWORD).status_code == 200


def test_good_sign_in_clears_the_pair(throttled, conn) -> None:
    client = throttled().test_client()
    for _ in range(2):
        assert _try(client, "admin", "wrong").status_code == 401
    assert _try(client, "admin", PASSWORD).status_code == 200
    for _ in range(2):
        assert _try(client, "admin", "wrong").status_code == 401
    assert _try(client, "admin", PASSWORD).status_code == 200       # 2 + 2 never locked


def test_lockout_is_audited_once(throttled, conn) -> None:
    client = throttled().test_client()
    for _ in range(3):
        assert _try(client, "Admin", "wrong", "10.0.0.7").status_code == 401
    for _ in range(2):
        assert _try(client, "admin", "wrong", "10.0.0.7").status_code == 429
    rows = conn.execute("SELECT actor, target, outcome, remote, detail FROM audit_log "
                        "WHERE action = 'login.lockout'").fetchall()
    assert len(rows) == 1
    actor, target, outcome, remote, detail = rows[0]
    assert (actor, target, outcome, remote) == ("Admin", "Admin", "denied", "10.0.0.7")
    assert detail == {"locked": ["user"], "max_failures": 3, "window_s": 60}
    denied = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'login' AND "
                          "outcome = 'denied'").fetchone()[0]
    assert denied == 2
