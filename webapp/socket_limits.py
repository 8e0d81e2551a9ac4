"""Limits on Socket.IO connections: a grace period to join, a refusal ends the connection,
a cap per client address.

Engine.IO opens a connection (``/socket.io/?EIO=4&transport=websocket``) before Socket.IO
knows who is there: the client then joins the namespace ``/`` with a CONNECT packet
(``40``, with its kiosk token or the page's cookie) and, if refused, gets ``44`` — but
left alone, the Engine.IO connection would live as long as the client answered pings,
holding a server thread or four. So:

* a connection that has not joined ``/`` within ``SOCKET_JOIN_GRACE_S`` seconds
  (settings ``socket_join_grace_s``) is closed by the server, as is one that left ``/``
  (sent ``41``) and stayed;
* a refused CONNECT is answered (``44 …``) and the connection closed at once, as is one
  whose connect handler failed (the database away: the browser reconnects later);
* one client address holds at most ``SOCKET_MAX_PER_ADDRESS`` connections at a time
  (settings ``socket_max_per_address``); more are refused with HTTP 401 before the
  WebSocket opens. The address is the TCP peer's: behind a reverse proxy every browser
  has the proxy's address, so raise the cap there.

The limits wrap the Engine.IO event handlers python-socketio registers (connect, message,
disconnect), so they hold for every transport; one sweeper thread, started with the first
connection, closes the connections that overstayed, and shuts down the TCP connection of
any closed one whose client has not answered the close within ``CLOSE_HANDSHAKE_S``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from typing import Any, Callable

log = logging.getLogger(__name__)

NAMESPACE = "/"
#: After a connection closes (the server's close, or Engine.IO's ping timeout), how long
#: the client has to answer before the TCP connection is shut down under it (a client that
#: reads nothing would otherwise hold two server threads for good).
CLOSE_HANDSHAKE_S = 2.0
CONNECT_PACKET = "0"      # Socket.IO packet type CONNECT, first character of the message
REFUSED_OVER_CAP = "too many connections from this address"


class SocketLimits:
    """The grace period, refusal and per-address cap on one python-socketio server."""

    def __init__(self, server: Any, grace_s: float, max_per_address: int) -> None:
        if grace_s <= 0 or max_per_address < 1:
            raise ValueError(f"socket limits: grace_s={grace_s!r} must be > 0 and "
                             f"max_per_address={max_per_address!r} at least 1")
        self.server = server                  # python-socketio Server
        self.eio = server.eio
        self.grace_s = float(grace_s)
        self.max_per_address = int(max_per_address)
        self.stats = {"refused_over_cap": 0, "closed_refused": 0, "closed_silent": 0}
        self._lock = threading.Lock()
        self._opened: dict[str, tuple[str, float]] = {}   # eio sid -> (address, opened)
        self._tcp: dict[str, Any] = {}                     # eio sid -> the TCP socket
        self._closing: list[tuple[float, Any]] = []        # (deadline, TCP socket)
        self._per_address: Counter[str] = Counter()
        self._capped: set[str] = set()                     # addresses at the cap (logged)
        self._stopped = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._on_connect = self._wrap("connect", self._connect)
        self._on_message = self._wrap("message", self._message)
        self._on_disconnect = self._wrap("disconnect", self._disconnect)

    def _wrap(self, event: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        original = self.eio.handlers[event]
        self.eio.on(event, handler)
        return original

    # -- Engine.IO events -----------------------------------------------------------------

    def _connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        address = str(environ.get("REMOTE_ADDR") or "?")
        with self._lock:
            open_now = self._per_address[address]
            if open_now >= self.max_per_address:
                self.stats["refused_over_cap"] += 1
                if address not in self._capped:
                    self._capped.add(address)
                    log.warning("socket connections from %s refused: %s open, the limit "
                                "(socket_max_per_address)", address, open_now)
                return REFUSED_OVER_CAP            # Engine.IO answers 401 with this
            self._per_address[address] += 1
            self._opened[eio_sid] = (address, time.monotonic())
            if environ.get("HTTP_UPGRADE", "").lower() == "websocket" \
                    and environ.get("werkzeug.socket") is not None:
                # a WebSocket has its TCP connection to itself (webapp.server closes it
                # afterwards); a polling request's may be kept alive for other requests
                self._tcp[eio_sid] = environ["werkzeug.socket"]
            self._start_sweeper()
        return self._on_connect(eio_sid, environ)

    def _message(self, eio_sid: str, data: Any) -> Any:
        connecting = isinstance(data, str) and data.startswith(CONNECT_PACKET)
        try:
            return self._on_message(eio_sid, data)
        finally:
            # refused ("44" is queued before the close), or the connect handler failed
            # (the database is away: the browser's reconnection then tries again)
            if connecting and not self.connected(eio_sid):
                self.stats["closed_refused"] += 1
                self._close(eio_sid, "refused")

    def _disconnect(self, eio_sid: str, *reason: Any) -> Any:
        self._forget(eio_sid)
        return self._on_disconnect(eio_sid, *reason)

    # -- bookkeeping ----------------------------------------------------------------------

    def joined(self, eio_sid: str) -> bool:
        """Whether the connection has joined (or is joining) the namespace ``/``."""
        return self.server.manager.sid_from_eio_sid(eio_sid, NAMESPACE) is not None

    def connected(self, eio_sid: str) -> bool:
        """Whether the connection has joined ``/`` and its connect handler accepted it."""
        sid = self.server.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
        return sid is not None and self.server.manager.is_connected(sid, NAMESPACE)

    def open_from(self, address: str) -> int:
        """Connections now open from ``address``."""
        with self._lock:
            return self._per_address[address]

    def _forget(self, eio_sid: str) -> None:
        """The connection is closing (whoever closed it): count it out, and shut its TCP
        connection down if it is still open after the close handshake."""
        with self._lock:
            tcp = self._tcp.pop(eio_sid, None)
            if tcp is not None:
                self._closing.append((time.monotonic() + CLOSE_HANDSHAKE_S, tcp))
            entry = self._opened.pop(eio_sid, None)
            if entry is None:
                return
            address = entry[0]
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]
            if self._per_address[address] < self.max_per_address \
                    and address in self._capped:
                self._capped.discard(address)
                log.info("socket connections from %s accepted again", address)

    def _close(self, eio_sid: str, why: str) -> None:
        sock = self.eio.sockets.get(eio_sid)
        if sock is None:
            self._forget(eio_sid)
            return
        log.debug("closing socket %s: %s", eio_sid, why)
        # no wait: a client that does not read must not hold up the caller
        sock.close(wait=False, reason=self.eio.reason.SERVER_DISCONNECT)
        self.eio.sockets.pop(eio_sid, None)      # as engineio.Server.disconnect does
        self._forget(eio_sid)

    # -- the sweeper ----------------------------------------------------------------------

    def _start_sweeper(self) -> None:
        if self._sweeper is None and not self._stopped.is_set():
            self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True,
                                             name="vigil-socket-limits")
            self._sweeper.start()

    def _sweep_loop(self) -> None:
        tick = min(1.0, self.grace_s / 4)
        while not self._stopped.wait(tick):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping
                log.exception("closing idle sockets failed")

    def sweep(self) -> int:
        """Close every connection older than the grace period that is not in ``/``, and
        shut down those closed earlier whose client did not answer; returns how many
        were closed."""
        now = time.monotonic()
        with self._lock:
            opened = list(self._opened.items())
            due = [tcp for deadline, tcp in self._closing if deadline <= now]
            self._closing = [(d, tcp) for d, tcp in self._closing if d > now]
        for tcp in due:
            try:
                tcp.shutdown(socket.SHUT_RDWR)    # ends the server's reader threads
            except OSError:
                pass                              # closed in the ordinary way already
        closed = 0
        for eio_sid, (_address, since) in opened:
            sock = self.eio.sockets.get(eio_sid)
            if sock is None or sock.closed:
                self._forget(eio_sid)
            elif now - since >= self.grace_s and not self.joined(eio_sid):
                self.stats["closed_silent"] += 1
                self._close(eio_sid, f"not in {NAMESPACE} after {self.grace_s:g} s")
                closed += 1
        return closed

    def stop(self) -> None:
        """Stop the sweeper (the server is going away)."""
        self._stopped.set()
        if self._sweeper is not None and self._sweeper is not threading.current_thread():
            self._sweeper.join(5)
