"""Newly committed events as they arrive: LISTEN vigil_events, then read by id.

The writer sends one NOTIFY per committed batch; the listener treats it only as a wake-up
and reads ``id > last seen`` (ids are in commit order), so a lost notification, a
reconnect or a slow consumer never skips or repeats an event. It also polls every
``poll_s`` seconds in case a notification was missed while reconnecting.

    with EventListener(url, after_id=last) as listener:
        for event in listener:          # blocks; ends after close() (from any thread)
            ...
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterator

import psycopg

from store.model import GeoEvent
from store.readers import events_since, last_event_id
from store.writer import NOTIFY_CHANNEL

log = logging.getLogger(__name__)


class EventListener:
    """Yields GeoEvents committed after ``after_id`` (default: from now on)."""

    def __init__(self, url: str, after_id: int | None = None, page: int = 1000,
                 poll_s: float = 5.0, wake_s: float = 0.5) -> None:
        self.url = url
        self.last_id = after_id
        self.page = page
        self.poll_s = poll_s
        self.wake_s = wake_s  # how soon close() from another thread is noticed
        self.reconnects = 0
        self._closed = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "EventListener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop: the iteration ends within ``wake_s`` seconds."""
        self._closed.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _connect(self) -> psycopg.Connection:
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5,
                               application_name="vigil-listener")
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        if self.last_id is None:  # after LISTEN, so nothing committed in between is lost
            self.last_id = last_event_id(conn)
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            self._conn = None

    def poll(self, timeout: float) -> list[GeoEvent]:
        """Events committed since the last call, waiting up to ``timeout`` for some."""
        if self._conn is None:
            self._conn = self._connect()
        events = events_since(self._conn, self.last_id, self.page)
        if not events:
            waited = 0.0
            while waited < timeout and not self.closed:
                step = min(self.wake_s, timeout - waited)
                if list(self._conn.notifies(timeout=step, stop_after=1)):
                    break
                waited += step
            events = events_since(self._conn, self.last_id, self.page)
        if events:
            self.last_id = events[-1].id
        return events

    def batches(self) -> Iterator[list[GeoEvent]]:
        """Yield each non-empty group of newly committed events, reconnecting by itself."""
        backoff = 0.1
        try:
            while not self.closed:
                try:
                    events = self.poll(self.poll_s)
                    backoff = 0.1
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    self._drop()
                    if self.closed:
                        break
                    self.reconnects += 1
                    log.warning("event listener lost the database (%s); reconnecting in %.1f s,"
                                " resuming after id %s", str(exc).strip(), backoff, self.last_id)
                    self._closed.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if events:
                    yield events
        finally:
            self._drop()

    def __iter__(self) -> Iterator[GeoEvent]:
        for events in self.batches():
            for event in events:
                yield event
                if self.closed:
                    return

    def run_in_thread(self, callback: Callable[[list[GeoEvent]], None]) -> threading.Thread:
        """Call ``callback(events)`` for each group of new events, in a daemon thread."""
        def loop() -> None:
            for events in self.batches():
                try:
                    callback(events)
                except Exception:  # noqa: BLE001 - one bad callback must not stop it
                    log.exception("event listener callback failed")

        self._thread = threading.Thread(target=loop, name="vigil-listener", daemon=True)
        self._thread.start()
        return self._thread
