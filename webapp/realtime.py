"""Live events: PostgreSQL LISTEN → GeoEvents → Socket.IO rooms, with replay.

Protocol (namespace ``/``, the browser's ``io()``; python-socketio in the tests)
------------------------------------------------------------------------------
``connect``       authenticated by the page's session cookie, or
                  ``auth={"token": "<kiosk token>"}``; refused (``connect_error``
                  "unauthorized") otherwise — :func:`webapp.access.socket_principal`.
                  A refused connection is then closed, as is one that has not
                  connected within ``socket_join_grace_s`` seconds; one address holds
                  at most ``socket_max_per_address`` (:mod:`webapp.socket_limits`).
``subscribe``     client → server ``{"after_id": <last event id drawn> | null}``.
                  The server replays from the database every event after ``after_id``
                  within the user's ward scope (except ``crowd_sample``: reload
                  ``GET /api/v1/heatmap/crowd`` instead), in id order, as ``geo_events``
                  messages with ``"replay": true``, then joins the user's room and sends
                  live ones. ``after_id: null`` means "from now" (the page loaded the
                  recent events over the API). Ack:
                  ``{"room": "wards:all", "replayed": 12, "last_id": 4711,
                  "truncated": false}`` — ``truncated`` means more than REPLAY_LIMIT
                  events were missed: reload the page's data over the API.
``geo_events``    server → client ``{"replay": bool, "events": [GeoEvent.to_json(), ...]}``,
                  ids ascending within and across messages, each event at most once
                  per subscription. Keep the largest id drawn and send it as
                  ``after_id`` after a reconnect (network blip or server restart): the
                  wall then shows exactly what it would have shown.
``alert_state``   server → client ``AlertState.to_json()`` (``store.alerts``) whenever
                  anyone acknowledges, assigns or resolves an alert in the client's scope.

Live sessions are re-checked every ``SESSION_RECHECK_S`` seconds (and at once through
:meth:`EventPump.recheck`): a removed user or revoked kiosk token is disconnected, a
changed ward scope moves the socket to its new room.

Rooms: each client joins exactly one room named after its ward scope — ``wards:all``
for unscoped users (admin, operator), ``ward:<id>`` for a commander of one ward,
``ward:<a>+<b>`` for several — so each batch reaches each client as one message in id
order. Events without a ward go to the all-wards rooms only. Principals who may not see
personal data (the wall, planners: no ``evidence`` permission) join the same scope
prefixed ``redacted:`` (``redacted:wards:all``) and receive every event, live and
replayed, with plates and watchlist identities removed (:func:`webapp.access.event_for`).

Throughput: :class:`store.listener.EventListener` wakes on the writer's one NOTIFY per
committed batch and hands over every event committed since (id order); the pump
drops ``crowd_sample`` events for cameras that sent one less than ``CROWD_THROTTLE_S``
ago, and emits one message per active room (≤ 500 events each); python-socketio encodes each message once
for all the room's clients.

Async mode: ``threading`` with simple-websocket on Werkzeug's threaded server
(:class:`webapp.server.WebServer`). Measured with ``vigil bench web`` (50 clients,
200 alerts/s, commit → client, loopback) against gevent 26 (server monkey-patched in a
child process, ``--async-mode gevent``) on a shared 2-CPU machine at load 9–14: every
run delivered everything; p99 was 78–541 ms with threading and 63–274 ms with gevent,
run to run, while the server itself used under 2 CPU-seconds per 100,000 deliveries and
the Python test clients 10–16 — the load, not the server, sets the tail there (figures
in README.md, "Map application"). Threading is kept: no monkey-patching of a process
that also runs psycopg_pool's threads and the embedded PostgreSQL's subprocesses, no
extra dependency, and the same server runs in the tests. eventlet was not tried
(deprecated upstream).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError

from store.model import GeoEvent
from webapp import socketio
from webapp.socket_limits import SocketLimits
from webapp.access import (ALL_WARDS_ROOM, Principal, event_for, redact_event,
                           socket_principal)

log = logging.getLogger(__name__)

NOT_REPLAYED = frozenset({"crowd_sample"})
BATCH_MAX = 500


REDACTED_PREFIX = "redacted:"


def scope_room(principal: Principal) -> str:
    """The one room a principal's socket joins (its ward scope; ``redacted:`` first for
    those who may not see personal data)."""
    prefix = "" if principal.sees_personal else REDACTED_PREFIX
    if principal.wards is None:
        return prefix + ALL_WARDS_ROOM
    return prefix + "ward:" + "+".join(sorted(principal.wards))


def _in_scope(event_ward: str | None, wards: frozenset[str] | None) -> bool:
    return wards is None or (event_ward is not None and event_ward in wards)


class EventPump:
    """Reads committed events from the store's listener and emits them to rooms."""

    def __init__(self, app: Flask, server: Any) -> None:
        self.app = app
        self.server = server              # this app's python-socketio Server
        self.lock = threading.Lock()      # held while emitting and while a client joins
        self.watermark = 0                # id of the last event handled live
        self.rooms: dict[str, tuple[frozenset[str] | None, bool]] = {}  # wards, personal
        self.members: dict[str, int] = {}
        self.clients: dict[str, tuple[Principal, str | None]] = {}
        self._listener: Any = None
        self._last_crowd: dict[str, float] = {}
        self._stopped = threading.Event()
        self.stats = {"events": 0, "emitted_messages": 0, "throttled": 0}

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Listen from the current last event id on, in the listener's thread."""
        from store.listener import EventListener
        self.watermark = self._last_id()
        self._listener = EventListener(self.app.config["DATABASE_URL"],
                                       after_id=self.watermark,
                                       poll_s=float(self.app.config.get("LISTENER_POLL_S", 5.0)))
        self._listener.run_in_thread(self._on_events)
        threading.Thread(target=self._access_loop, daemon=True,
                         name="vigil-access-listen").start()
        every = float(self.app.config.get("SESSION_RECHECK_S", 5.0))
        if every > 0:
            threading.Thread(target=self._recheck_loop, args=(every,), daemon=True,
                             name="vigil-recheck").start()

    def stop(self) -> None:
        """Stop listening and drop every client's connection as a process exit would
        (no close packet), so clients reconnect and resubscribe to the next server."""
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()
        for sock in list(self.server.eio.sockets.values()):
            sock.close(wait=False, abort=True)

    def _last_id(self) -> int:
        from store.readers import last_event_id
        from webapp.db import get_pool
        with get_pool(self.app).connection() as conn:
            return last_event_id(conn)

    def _on_events(self, events: list[GeoEvent]) -> None:
        throttle = float(self.app.config["CROWD_THROTTLE_S"])
        for i in range(0, len(events), BATCH_MAX):
            self._emit(events[i:i + BATCH_MAX], throttle)

    # -- emission -----------------------------------------------------------------------

    def _throttled(self, event: GeoEvent, throttle: float, now: float) -> bool:
        if event.kind != "crowd_sample" or throttle <= 0:
            return False
        last = self._last_crowd.get(event.camera_id)
        if last is not None and now - last < throttle:
            return True
        self._last_crowd[event.camera_id] = now
        return False

    def _emit(self, batch: list[GeoEvent], throttle: float) -> None:
        now = time.monotonic()
        events = []
        for event in batch:
            if self._throttled(event, throttle, now):
                self.stats["throttled"] += 1
                continue
            doc = event.to_json()                              # serialised once
            events.append((event.ward_id, doc, redact_event(doc)))
        with self.lock:
            for room, (wards, personal) in list(self.rooms.items()):
                chosen = [full if personal else redacted for ward, full, redacted in events
                          if _in_scope(ward, wards)]
                if chosen:
                    self.server.emit("geo_events", {"replay": False, "events": chosen}, to=room)
                    self.stats["emitted_messages"] += 1
            self.watermark = max(self.watermark, max(e.id or 0 for e in batch))
            self.stats["events"] += len(batch)

    def broadcast(self, name: str, payload: dict[str, Any], ward_id: str | None) -> None:
        """Send ``payload`` to every room whose scope includes ``ward_id``."""
        with self.lock:
            for room, (wards, _personal) in list(self.rooms.items()):
                if _in_scope(ward_id, wards):
                    self.server.emit(name, payload, to=room)

    # -- clients --------------------------------------------------------------------------

    def subscribe(self, sid: str, principal: Principal, after_id: int | None) -> dict[str, Any]:
        """Replay what ``sid`` missed after ``after_id``, then join its room (see module doc)."""
        from webapp.db import get_pool
        room = scope_room(principal)
        limit = int(self.app.config["REPLAY_LIMIT"])
        replayed, truncated = 0, False
        last = self.watermark if after_id is None else max(int(after_id), 0)
        if self.watermark - last > limit:     # too far behind: only the newest ids
            truncated, last = True, self.watermark - limit
        with get_pool(self.app).connection() as conn:
            while True:       # catch up without holding the lock
                with self.lock:
                    target = self.watermark
                if last >= target:
                    break
                last, n = self._replay(conn, sid, principal, last, target)
                replayed += n
            with self.lock:   # the last gap, then join: nothing missed, nothing twice
                last, n = self._replay(conn, sid, principal, last, self.watermark)
                replayed += n
                last = max(last, self.watermark)
                self._join(sid, principal, room)
        return {"room": room, "replayed": replayed, "last_id": last, "truncated": truncated}

    def _replay(self, conn: Any, sid: str, principal: Principal, after: int,
                until: int) -> tuple[int, int]:
        from store.readers import events_since
        sent = 0
        while after < until:
            events = events_since(conn, after, 1000)
            if not events:
                break
            chosen = [event_for(principal, e.to_json()) for e in events
                      if e.id is not None and e.id <= until and e.kind not in NOT_REPLAYED
                      and principal.sees_ward(e.ward_id)]
            after = min(max(e.id or 0 for e in events), until)
            if chosen:
                for i in range(0, len(chosen), BATCH_MAX):
                    self.server.emit("geo_events", {"replay": True,
                                                    "events": chosen[i:i + BATCH_MAX]}, to=sid)
                sent += len(chosen)
        return max(after, until), sent

    def _join(self, sid: str, principal: Principal, room: str) -> None:
        old = self.clients.get(sid)
        if old is not None and old[1] is not None:
            self._leave_locked(sid)
            try:
                self.server.leave_room(sid, old[1], namespace="/")
            except ValueError:            # the socket went away meanwhile
                pass
        if sid not in self.clients:       # disconnected (or withdrawn) while replaying
            return
        try:
            self.server.enter_room(sid, room, namespace="/")
        except ValueError:                # closed while subscribing (page reload)
            log.debug("socket %s closed before it joined %s", sid, room)
            return
        self.rooms[room] = (principal.wards, principal.sees_personal)
        self.members[room] = self.members.get(room, 0) + 1
        self.clients[sid] = (principal, room)

    def recheck(self) -> int:
        """Re-read every connected client's principal (see ``access.still_valid``):
        disconnect those removed, revoked or without ``view``; move those whose ward
        scope changed to their new room. Returns how many were changed. Called every
        ``SESSION_RECHECK_S`` seconds and by whoever changes users or tokens."""
        from webapp.access import still_valid
        with self.app.app_context():
            current = {sid: still_valid(p) for sid, (p, _room) in list(self.clients.items())}
        withdrawn, moved = [], 0
        with self.lock:
            for sid, fresh in current.items():
                entry = self.clients.get(sid)
                if entry is None or fresh == entry[0]:
                    continue
                if fresh is None or not fresh.can("view"):
                    self._leave_locked(sid)
                    self.clients.pop(sid, None)
                    withdrawn.append((sid, entry[0].name))
                elif entry[1] is not None and scope_room(fresh) != entry[1]:
                    self._join(sid, fresh, scope_room(fresh))
                    moved += 1
                else:
                    self.clients[sid] = (fresh, entry[1])
        for sid, name in withdrawn:      # outside the lock: this runs the disconnect handler
            self.server.disconnect(sid, namespace="/")
            log.info("socket %s of %s closed: access withdrawn", sid, name)
        return len(withdrawn) + moved

    def _access_loop(self) -> None:
        """LISTEN for user and token changes (``store.users.ACCESS_CHANNEL``, sent by the
        admin API and ``vigil users``/``vigil tokens``) and re-check live sockets at once."""
        from store.db import connect
        from store.users import ACCESS_CHANNEL
        while not self._stopped.is_set():
            try:
                with connect(self.app.config["DATABASE_URL"], autocommit=True) as conn:
                    conn.execute(f"LISTEN {ACCESS_CHANNEL}")
                    self.recheck()             # whatever changed while not listening
                    while not self._stopped.is_set():
                        if any(True for _n in conn.notifies(timeout=1.0)):
                            self.recheck()
            except Exception as exc:  # noqa: BLE001 - the database may be away; try again
                if self._stopped.is_set():
                    break                      # shutting down: the connection went with it
                log.warning("listening for access changes failed (%s); retrying in 5 s",
                            str(exc).strip())
                self._stopped.wait(5.0)

    def _recheck_loop(self, every: float) -> None:
        while not self._stopped.wait(every):
            try:
                self.recheck()
            except Exception:  # noqa: BLE001 - keep checking
                log.exception("re-checking live sessions failed")

    def connect(self, sid: str, principal: Principal) -> None:
        """Remember who ``sid`` is."""
        with self.lock:
            self.clients[sid] = (principal, None)

    def disconnect(self, sid: str) -> None:
        """Forget ``sid`` and drop its room when empty."""
        with self.lock:
            self._leave_locked(sid)
            self.clients.pop(sid, None)

    def _leave_locked(self, sid: str) -> None:
        entry = self.clients.get(sid)
        if entry is None or entry[1] is None:
            return
        room = entry[1]
        self.members[room] -= 1
        if self.members[room] <= 0:
            self.members.pop(room, None)
            self.rooms.pop(room, None)
        self.clients[sid] = (entry[0], None)


def pump(app: Flask | None = None) -> EventPump | None:
    """The app's event pump (None when realtime is off)."""
    return (app or current_app).extensions.get("vigil_pump")


def broadcast_alert_state(state_json: dict[str, Any]) -> None:
    """Tell every client in scope that an alert changed (after the commit)."""
    p = pump()
    if p is not None:
        p.broadcast("alert_state", state_json, state_json.get("ward_id"))


# -- Socket.IO handlers ------------------------------------------------------------------

@socketio.on("connect")
def _on_connect(auth: Any = None) -> None:
    principal = socket_principal(auth)
    if principal is None or not principal.can("view"):
        raise ConnectionRefusedError("unauthorized")
    p = pump()
    if p is None:
        raise ConnectionRefusedError("live events are off on this server")
    p.connect(request.sid, principal)  # type: ignore[attr-defined]


@socketio.on("disconnect")
def _on_disconnect(reason: Any = None) -> None:
    p = pump()
    if p is not None:
        p.disconnect(request.sid)  # type: ignore[attr-defined]


@socketio.on("subscribe")
def _on_subscribe(data: Any = None) -> dict[str, Any]:
    p = pump()
    sid = request.sid  # type: ignore[attr-defined]
    entry = p.clients.get(sid) if p is not None else None
    if entry is None:
        return {"error": "not connected"}
    after_id = data.get("after_id") if isinstance(data, dict) else None
    if after_id is not None and (not isinstance(after_id, int) or isinstance(after_id, bool)
                                 or after_id < 0):
        return {"error": "after_id must be a non-negative integer or null"}
    return p.subscribe(sid, entry[0], after_id)


def init_app(app: Flask) -> None:
    """Put the connection limits on this app's Socket.IO server
    (:mod:`webapp.socket_limits`); start the event pump when the app has a database and
    REALTIME is on."""
    settings = app.config["SETTINGS"]
    app.extensions["vigil_socket_limits"] = SocketLimits(
        socketio.server,
        grace_s=float(app.config.get("SOCKET_JOIN_GRACE_S", settings.socket_join_grace_s)),
        max_per_address=int(app.config.get("SOCKET_MAX_PER_ADDRESS",
                                           settings.socket_max_per_address)))
    if not app.config["REALTIME"]:
        return
    p = EventPump(app, socketio.server)
    app.extensions["vigil_pump"] = p
    p.start()


def shutdown(app: Flask) -> None:
    """Stop the pump and the connection limits' sweeper (tests, serve's Ctrl-C)."""
    p = app.extensions.pop("vigil_pump", None)
    if p is not None:
        p.stop()
    limits = app.extensions.pop("vigil_socket_limits", None)
    if limits is not None:
        limits.stop()

