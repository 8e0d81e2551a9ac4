"""One batch of GeoEvents committed in one transaction: the database half of the writer.

:class:`BatchStore` owns the writer's connection and everything a batch needs from the
database: the cameras and area index it is checked and tagged against, the daily
partitions it falls in (native layout), then::

    pg_advisory_xact_lock  →  COPY … FROM STDIN (FORMAT BINARY)  →  writer_batches row
    + pg_notify('vigil_events', {"first_id", "last_id"})  →  COMMIT

Ids come from the ``events.id`` default while the advisory lock is held, and the lock is
held until commit, so id order is commit order across all writers. A batch tried before
(``suspect``: its COMMIT may have happened before the connection broke) is looked up in
``writer_batches`` first, so a retry never stores it twice. A COPY the server refuses is
bisected under savepoints until the one bad event is found and rejected alone.
Connection errors (:data:`TRANSIENT`) go up to the caller, which retries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable

import psycopg

from store.copy_events import COPY_SQL, HEADER, TRAILER, TextCache, encode_batch
from store.model import GeoEvent, InvalidEvent

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "vigil_events"
ID_LOCK_KEY = 8_210_001  # pg_advisory_xact_lock key: ids are allocated under it
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)
_EPOCH = date(1970, 1, 1)


@dataclass
class Batch:
    """Events written in one transaction; ``ours`` unless adopted from a dead writer."""

    batch_id: str
    events: list[GeoEvent]
    ours: bool = True
    suspect: bool = False  # tried before: its commit may have happened


class BatchStore:
    """Writes batches over one (re)opened connection; ``reject`` hears of bad events."""

    def __init__(self, url: str, reject: Callable[[GeoEvent, InvalidEvent], None],
                 retention: timedelta | None = None) -> None:
        self.url = url
        self.reject = reject
        self.retention = retention  # events older than this are refused, not stored
        self.last_id = 0  # the highest id of the last committed batch
        self._conn: psycopg.Connection | None = None
        self._cameras: frozenset[str] = frozenset()
        self._cameras_at = 0.0
        self._timescale = False
        self._days: set[int] = set()
        self._texts = TextCache()
        self._tag = None
        self._area_version: int | None = None
        self._area_checked = 0.0

    def write(self, batch: Batch) -> int:
        """Commit ``batch`` (less its rejected events); returns how many were stored
        (0 when none were, or when a suspect batch turns out committed already)."""
        conn = self._connection()
        if batch.suspect:
            row = conn.execute("SELECT n FROM writer_batches WHERE batch_id = %s",
                               (batch.batch_id,)).fetchone()
            conn.commit()
            if row is not None:
                log.info("batch %s was committed before the connection broke",
                         batch.batch_id)
                return 0
        self._refresh(conn, batch.events)
        encoded = self._encode(batch.events)
        for event, reason in encoded.rejected:
            self.reject(event, reason)
        if not encoded.events:
            return 0
        if not self._timescale:
            self._ensure_days(conn, encoded.days)
        try:
            with conn.cursor() as cur:
                before = self._lock_ids(cur)
                self._copy(cur, encoded.payload)
                stored = encoded.events
                self._finish(cur, batch.batch_id, len(stored), before)
            conn.commit()
        except TRANSIENT:
            raise
        except psycopg.Error as exc:
            conn.rollback()
            log.warning("batch of %d refused by the database (%s); finding the culprit",
                        len(encoded.events), str(exc).strip())
            self._days = set()
            if not self._timescale:
                self._ensure_days(conn, encoded.days)
            with conn.cursor() as cur:
                before = self._lock_ids(cur)
                stored = self._bisect(cur, encoded.events, encoded.payload)
                if stored:
                    self._finish(cur, batch.batch_id, len(stored), before)
            conn.commit()
        return len(stored)

    def close(self) -> None:
        """Drop the connection (the next :meth:`write` opens a new one)."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
            self._conn = None

    # -- connection and what a batch is checked against -------------------------------

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, connect_timeout=5,
                                         application_name="vigil-writer")
            row = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
            ).fetchone()
            self._conn.commit()
            self._timescale = bool(row[0])
            self._days = set()
            self._cameras_at = 0.0
            self._area_checked = 0.0
            log.info("event writer connected (%s)",
                     "TimescaleDB" if self._timescale else "native partitions")
        return self._conn

    def _refresh(self, conn: psycopg.Connection, events: list[GeoEvent]) -> None:
        now = time.monotonic()
        if now - self._cameras_at > 30 or (
                now - self._cameras_at > 1
                and not {e.camera_id for e in events} <= self._cameras):
            self._cameras = frozenset(r[0] for r in conn.execute("SELECT id FROM cameras"))
            self._cameras_at = now
        if now - self._area_checked > 2:
            self._area_checked = now
            version = conn.execute("SELECT version FROM area_version").fetchone()[0]
            if version != self._area_version:
                self._area_version = version
                self._tag = self._load_tagger(conn)
        conn.commit()

    @staticmethod
    def _load_tagger(conn: psycopg.Connection):
        if not conn.execute("SELECT EXISTS (SELECT 1 FROM wards) OR "
                            "EXISTS (SELECT 1 FROM zones)").fetchone()[0]:
            return None
        from store.areas import load_area_index
        index = load_area_index(conn)
        log.info("event writer: area index loaded (%d areas)", len(index))
        return index.tag

    def _ensure_days(self, conn: psycopg.Connection, days: Iterable) -> None:
        missing = [int(d) for d in days if int(d) not in self._days]
        if not missing:
            return
        lo = _EPOCH + timedelta(days=min(missing))
        hi = _EPOCH + timedelta(days=max(missing))
        conn.execute("SELECT vigil_ensure_event_partitions(%s, %s)", (lo, hi))
        conn.commit()
        self._days.update(range(min(missing), max(missing) + 1))

    def _encode(self, events: list[GeoEvent]):
        return encode_batch(events, self._cameras, self._tag, self._texts,
                            datetime.now(timezone.utc), self.retention)

    # -- inside the batch's transaction ------------------------------------------------

    @staticmethod
    def _copy(cur: psycopg.Cursor, payload: bytes) -> None:
        with cur.copy(COPY_SQL) as copy:
            copy.write(HEADER)
            copy.write(payload)
            copy.write(TRAILER)

    @staticmethod
    def _lock_ids(cur: psycopg.Cursor) -> int:
        """Take the id lock (until commit); returns the last id handed out before."""
        return cur.execute(
            "SELECT pg_advisory_xact_lock(%s), (SELECT CASE WHEN is_called THEN last_value"
            " ELSE last_value - 1 END FROM events_id_seq)", (ID_LOCK_KEY,)).fetchone()[1]

    def _finish(self, cur: psycopg.Cursor, batch_id: str, n: int, before: int) -> None:
        """Record the batch and NOTIFY its id range (inside its transaction)."""
        row = cur.execute(
            "WITH b AS (INSERT INTO writer_batches (batch_id, first_id, last_id, n)"
            " VALUES (%(b)s, %(first)s, currval('events_id_seq'), %(n)s)"
            " RETURNING first_id, last_id)"
            " SELECT last_id, pg_notify(%(ch)s, json_build_object("
            "'first_id', first_id, 'last_id', last_id)::text) FROM b",
            {"b": batch_id, "n": n, "first": before + 1, "ch": NOTIFY_CHANNEL}).fetchone()
        self.last_id = row[0]

    def _bisect(self, cur: psycopg.Cursor, events: list[GeoEvent], payload: bytes
                ) -> list[GeoEvent]:
        """COPY under a savepoint; on refusal split in halves. Returns what was stored."""
        cur.execute("SAVEPOINT vigil_part")
        try:
            self._copy(cur, payload)
            cur.execute("RELEASE SAVEPOINT vigil_part")
            return events
        except TRANSIENT:
            raise
        except psycopg.Error as exc:
            cur.execute("ROLLBACK TO SAVEPOINT vigil_part")
            if len(events) == 1:
                self.reject(events[0], InvalidEvent(
                    "event", events[0].camera_id,
                    f"refused by the database: {str(exc).strip()}"))
                return []
        half = len(events) // 2
        stored = []
        for part in (events[:half], events[half:]):
            enc = self._encode(part)
            stored += self._bisect(cur, enc.events, enc.payload)
        return stored
