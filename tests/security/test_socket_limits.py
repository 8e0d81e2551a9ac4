"""Socket.IO connections that never sign in are closed; one address cannot hold many.

Raw Engine.IO v4 WebSocket clients (websocket-client) against a really served app: they
answer the server's pings, as the attacker's did, so only the server's limits close them
(the ping interval, 25 s, is longer than every wait here).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
import socketio
import websocket

from tests.polling import poll_until
from tests.webapp.web_testing import WALL_TOKEN, WARD_A, insert_event, seed_areas

WAIT_S = 20.0


class RawSocket:
    """One Engine.IO WebSocket that sends only what the test says (and pongs)."""

    def __init__(self, url: str) -> None:
        ws_url = url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.ws = websocket.create_connection(ws_url, timeout=10)
        self.received: list[str] = []
        opened = self.ws.recv()
        assert opened.startswith("0{"), opened      # Engine.IO OPEN with the sid
        self.ws.settimeout(0.5)

    def send(self, text: str) -> None:
        self.ws.send(text)

    def wait_closed(self, within_s: float = WAIT_S) -> bool:
        """Read (answering pings) until the server closes; False if still open."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketConnectionClosedException, OSError):
                return True
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True
            text = data.decode()
            self.received.append(text)
            if text == "2":                          # Engine.IO PING
                self.ws.send("3")
        return False

    def wait_for(self, prefix: str, within_s: float = WAIT_S) -> str:
        """The next message starting with ``prefix`` (pings answered meanwhile)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for text in self.received:
                if text.startswith(prefix):
                    return text
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            self.received.append(text)
            if text == "2":
                self.ws.send("3")
        raise AssertionError(f"no {prefix!r} message; got {self.received}")

    def close(self) -> None:
        self.ws.close(timeout=1)


def _limits(server):  # noqa: ANN001, ANN202
    return server.app.extensions["vigil_socket_limits"]


def _threads() -> int:
    """Threads of this process (the server's included) but Engine.IO's ping timers."""
    return sum(1 for t in threading.enumerate() if "_send_ping" not in t.name)


def _poll(condition, what: str, within_s: float = WAIT_S) -> None:  # noqa: ANN001
    poll_until(condition, what, within_s)


def test_silent_connections_are_closed_and_their_threads_end(live_server, conn) -> None:
    server = live_server(SOCKET_JOIN_GRACE_S=1.0)
    before = _threads()
    silent = [RawSocket(server.url) for _ in range(20)]
    assert _threads() >= before + 20                    # a thread or more each
    for sock in silent:
        assert sock.wait_closed(), "a connection that never sent 40 was left open"
    assert _limits(server).stats["closed_silent"] == 20
    # the request and writer threads of each connection end with it; Engine.IO's ping
    # timer threads sleep out their ping interval (25 s) and then end by themselves
    _poll(lambda: _threads() <= before + 4,
          f"server threads back near {before} (now {_threads()})")
    assert not [s for s in _limits(server).eio.sockets.values() if not s.closed]


def test_a_client_that_reads_nothing_does_not_keep_server_threads(live_server, conn) -> None:
    """The server's close goes unanswered: the TCP connection is shut down under it."""
    server = live_server(SOCKET_JOIN_GRACE_S=1.0)
    before = _threads()
    deaf = [RawSocket(server.url) for _ in range(10)]        # never read again
    assert _threads() >= before + 10
    _poll(lambda: _limits(server).stats["closed_silent"] == 10, "the server closes them")
    _poll(lambda: _threads() <= before + 4,
          f"server threads back near {before} (now {_threads()})")
    for sock in deaf:
        sock.close()


def test_a_connection_that_leaves_the_namespace_is_closed(live_server, conn) -> None:
    server = live_server(SOCKET_JOIN_GRACE_S=1.0)
    sock = RawSocket(server.url)
    sock.send("40" + json.dumps({"token": WALL_TOKEN}))
    assert sock.wait_for("40{").startswith('40{"sid"')   # joined
    sock.send("41")                                        # and left again
    assert sock.wait_closed()


@pytest.mark.parametrize("connect", ['40{"token":"wrong"}', "40", '40{"token":5}',
                                     "40/elsewhere,"])
def test_a_refused_connection_is_closed_at_once(live_server, conn, connect: str) -> None:
    server = live_server(SOCKET_JOIN_GRACE_S=300.0)      # the grace plays no part here
    sock = RawSocket(server.url)
    sock.send(connect)
    assert sock.wait_closed(), "a refused connection was left open"
    assert any(text.startswith("44") for text in sock.received), sock.received
    assert _limits(server).stats["closed_refused"] == 1


def test_one_address_holds_at_most_the_cap(live_server, conn) -> None:
    server = live_server(SOCKET_JOIN_GRACE_S=300.0, SOCKET_MAX_PER_ADDRESS=3)
    held = [RawSocket(server.url) for _ in range(3)]
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        RawSocket(server.url)
    assert refused.value.status_code == 401
    with pytest.raises(urllib.error.HTTPError) as polling:     # the other transport too
        urllib.request.urlopen(f"{server.url}/socket.io/?EIO=4&transport=polling",
                               timeout=10)
    assert polling.value.code == 401
    assert "too many connections" in polling.value.read().decode()
    assert _limits(server).open_from("127.0.0.1") == 3
    held.pop().close()                                    # one leaves: room for one more
    _poll(lambda: _limits(server).open_from("127.0.0.1") == 2, "the closed one forgotten")
    held.append(RawSocket(server.url))
    for sock in held:
        sock.close()


def test_a_signed_in_client_stays_past_the_grace_and_gets_events(live_server, conn) -> None:
    seed_areas(conn)
    server = live_server(SOCKET_JOIN_GRACE_S=1.0)
    received: list[dict] = []
    client = socketio.Client(reconnection=False)
    client.on("geo_events", lambda message: received.extend(message["events"]))
    client.connect(server.url, auth={"token": WALL_TOKEN}, transports=["websocket"],
                   wait_timeout=10)
    try:
        assert client.call("subscribe", {"after_id": None}, timeout=10)["room"]
        silent = RawSocket(server.url)        # opened later, so closed later than a sweep
        assert silent.wait_closed()           # past the grace for the client too
        assert client.connected
        event_id = insert_event(conn, "cam-a", "intrusion", WARD_A)
        _poll(lambda: any(e["id"] == event_id for e in received), "the live event")
    finally:
        client.disconnect()


def test_a_connection_whose_sign_in_fails_is_closed(live_server, conn, db_url,
                                                    pg_admin_url) -> None:
    """The connect handler itself failing (here: its database is gone) ends the
    connection as a refusal does."""
    from psycopg import sql

    from store.db import connect
    server = live_server(SOCKET_JOIN_GRACE_S=300.0)
    conn.close()
    with connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
            sql.Identifier(db_url.rsplit("/", 1)[1].split("?", 1)[0])))
    sock = RawSocket(server.url)
    sock.send("40" + json.dumps({"token": WALL_TOKEN}))
    assert sock.wait_closed(), "a connection whose sign-in failed was left open"


def test_a_signed_in_client_gone_deaf_does_not_keep_server_threads(live_server, conn) -> None:
    """Engine.IO closes a client that stops answering pings; its threads end too."""
    server = live_server(SOCKET_JOIN_GRACE_S=300.0)
    eio = _limits(server).eio
    eio.ping_interval, eio.ping_timeout = 1, 1             # so the test need not wait 45 s
    before = _threads()
    deaf = RawSocket(server.url)
    deaf.send("40" + json.dumps({"token": WALL_TOKEN}))
    deaf.wait_for("40{")                                   # signed in, then reads nothing
    _poll(lambda: not _limits(server).open_from("127.0.0.1"), "the ping timeout closes it")
    _poll(lambda: _threads() <= before + 2,
          f"server threads back near {before} (now {_threads()})")
    deaf.close()
