"""The event writer: GeoEvents in, committed rows out, by batched binary COPY.

``submit`` queues an event (never blocks on the database). A background thread takes
what is queued once there are ``writer_batch_rows`` events or the oldest has waited
``writer_batch_ms``, validates and encodes it (:mod:`store.copy_events`) and writes it in
one transaction::

    pg_advisory_xact_lock  →  COPY … FROM STDIN (FORMAT BINARY)  →  writer_batches row
    + pg_notify('vigil_events', {"first_id", "last_id"})  →  COMMIT

Ids come from the ``events.id`` default while the advisory lock is held, and the lock is
held until commit, so id order is commit order across all writers: a reader that has
seen id N has seen every id below N (replay-by-id and the rollup watermark rely on it).
An event counts as stored only after the commit.

When the database is unreachable the batch is retried with exponential backoff; what
keeps arriving stays in memory up to ``memory_events`` and then spills, oldest first, to
files under ``state_dir/spill`` (:mod:`store.spill`); everything is written in order
when the database is back. Past ``writer_buffer_events`` new events are refused, counted
as overflow and logged loudly. A batch whose COMMIT was cut off is looked up in
``writer_batches`` before it is retried, so nothing is stored twice.
"""

from __future__ import annotations

import collections
import logging
import pickle
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Iterable

import psycopg

from store.copy_events import COPY_SQL, HEADER, TRAILER, TextCache, encode_batch
from store.model import GeoEvent, InvalidEvent
from store.settings import Settings, load_settings
from store.spill import SpillQueue

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "vigil_events"
ID_LOCK_KEY = 8_210_001  # pg_advisory_xact_lock key: ids are allocated under it
MAX_BATCH_FACTOR = 20    # a flush takes up to this many times writer_batch_rows
_TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)
_EPOCH = date(1970, 1, 1)



@dataclass
class Batch:
    """Events written in one transaction; ``ours`` unless adopted from a dead writer."""

    batch_id: str
    events: list[GeoEvent]
    ours: bool = True
    suspect: bool = False  # tried before: its commit may have happened


@dataclass
class WriterStats:
    """Counters of one writer (a snapshot from :attr:`EventWriter.stats`)."""

    submitted: int = 0
    stored: int = 0
    rejected: int = 0
    overflowed: int = 0
    batches: int = 0
    retries: int = 0
    spilled: int = 0
    adopted: int = 0
    buffered: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    last_error: str | None = None
    last_id: int = 0


class EventWriter:
    """Batched, ordered, loss-averse writer of GeoEvents (see the module docstring)."""

    def __init__(self, url: str, settings: Settings | None = None, *,
                 memory_events: int | None = None,
                 on_reject: Callable[[GeoEvent, InvalidEvent], None] | None = None,
                 spill_dir: Path | None = None) -> None:
        settings = settings or load_settings()
        self.url = url
        self.batch_rows = settings.writer_batch_rows
        self.batch_s = settings.writer_batch_ms / 1000
        self.max_batch = self.batch_rows * MAX_BATCH_FACTOR
        self.bound = settings.writer_buffer_events
        self.memory_events = min(memory_events or 200_000, self.bound)
        self.on_reject = on_reject
        self.rejections: collections.deque[tuple[GeoEvent, InvalidEvent]] = \
            collections.deque(maxlen=200)
        self._stats = WriterStats()
        self._cond = threading.Condition()
        self._pending: collections.deque[GeoEvent] = collections.deque()
        self._oldest = 0.0
        self._accepted = 0  # events accepted by submit (ours, in order)
        self._done = 0      # of those, how many are stored or rejected
        self._inflight: list[Batch] = []
        self._inflight_ours = 0
        self._closing = False
        self._abort = False
        self._flush_now = False
        self._last_overflow_log = 0.0
        self._spill = SpillQueue(spill_dir or settings.state_dir / "spill")
        self._stats.adopted = self._spill.adopt_orphans()
        self._conn: psycopg.Connection | None = None
        self._cameras: frozenset[str] = frozenset()
        self._cameras_at = 0.0
        self._timescale = False
        self._days: set[int] = set()
        self._texts = TextCache()
        self._tag = None
        self._area_version: int | None = None
        self._area_checked = 0.0
        self._last_id = 0
        self._thread = threading.Thread(target=self._run, name="vigil-writer", daemon=True)
        self._thread.start()

    # -- producer side ------------------------------------------------------------------

    def submit(self, event: GeoEvent) -> bool:
        """Queue one event; False when the buffer is full (counted as overflow)."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the writer is closed")
            if len(self._pending) + self._spill.own_events + self._inflight_ours >= self.bound:
                self._overflow(1)
                return False
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.append(event)
            self._accepted += 1
            if len(self._pending) >= self.batch_rows:
                self._cond.notify_all()
        return True

    def submit_many(self, events: Iterable[GeoEvent]) -> int:
        """Queue several events at once; returns how many were accepted."""
        events = list(events)
        with self._cond:
            if self._closing:
                raise RuntimeError("the writer is closed")
            room = (self.bound - len(self._pending) - self._spill.own_events
                    - self._inflight_ours)
            take = events[:max(room, 0)]
            if len(take) < len(events):
                self._overflow(len(events) - len(take))
            if take and not self._pending:
                self._oldest = time.monotonic()
            self._pending.extend(take)
            self._accepted += len(take)
            if len(self._pending) >= self.batch_rows:
                self._cond.notify_all()
        return len(take)

    def _overflow(self, n: int) -> None:
        self._stats.overflowed += n
        now = time.monotonic()
        if now - self._last_overflow_log > 5:
            self._last_overflow_log = now
            log.error("EVENT WRITER OVERFLOW: buffer of %d events is full (database "
                      "unreachable?); %d events refused so far", self.bound,
                      self._stats.overflowed)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event submitted so far is committed or rejected."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._accepted
            self._flush_now = True
            self._cond.notify_all()
            while self._done < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                if not self._thread.is_alive():
                    return False
                self._cond.wait(left if left is not None else 1.0)
        return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flush (up to ``timeout``), then stop; unwritten events stay in spill files."""
        drained = self.flush(timeout)
        with self._cond:
            self._closing = True
            self._abort = not drained
            self._cond.notify_all()
        self._thread.join()
        return drained

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def stats(self) -> WriterStats:
        """A snapshot of the counters."""
        with self._cond:
            snap = replace(self._stats, rejected_by_reason=dict(self._stats.rejected_by_reason))
            snap.buffered = len(self._pending) + self._spill.events + self._inflight_ours
        return snap

    # -- the flushing thread ------------------------------------------------------------

    def _take(self) -> list[Batch] | None:
        """Under the lock: the next batches to write, oldest first; None to stop."""
        while True:
            if self._inflight:
                return self._inflight
            if self._spill.events:
                chunks, ours, count = self._spill.pop()
                if not chunks and ours:
                    self._done += count  # set aside (logged): do not wait for them
                    self._cond.notify_all()
                self._inflight = [Batch(b, ev, ours, suspect=True) for b, ev in chunks]
                self._inflight_ours = sum(len(b.events) for b in self._inflight if b.ours)
                if self._inflight:
                    return self._inflight
                continue
            if self._pending:
                age = time.monotonic() - self._oldest
                if (len(self._pending) >= self.batch_rows or age >= self.batch_s
                        or self._flush_now or self._closing):
                    n = min(len(self._pending), self.max_batch)
                    events = [self._pending.popleft() for _ in range(n)]
                    self._oldest = time.monotonic()
                    self._inflight = [Batch(uuid.uuid4().hex, events)]
                    self._inflight_ours = n
                    return self._inflight
                self._cond.wait(self.batch_s - age)
                continue
            self._flush_now = False
            if self._closing:
                return None
            self._cond.wait(1.0)

    def _run(self) -> None:
        backoff = 0.05
        failures = 0
        while True:
            with self._cond:
                batches = self._take()
                if batches is None:
                    break
                if self._abort:
                    self._park()
                    break
            try:
                while batches:
                    self._write_batch(batches[0])
                    with self._cond:
                        done = batches.pop(0)
                        if done.ours:
                            self._done += len(done.events)
                            self._inflight_ours -= len(done.events)
                        self._cond.notify_all()
                backoff = 0.05
            except _TRANSIENT as exc:
                self._lost_connection(exc)
                with self._cond:
                    for b in batches:
                        b.suspect = True
                    self._stats.retries += 1
                    self._spill_excess()
                    if not self._abort:
                        self._cond.wait(backoff)
                    if self._abort:
                        self._park()
                        break
                backoff = min(backoff * 2, 5.0)
            except Exception:  # noqa: BLE001 - keep the thread alive; log and retry
                failures += 1
                log.exception("event writer: unexpected error (%d in a row)", failures)
                with self._cond:
                    for b in batches:
                        b.suspect = True
                    if failures >= 5 and batches:
                        self._set_aside(batches[0])
                        failures = 0
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                failures = 0
        self._close_connection()
        self._spill.close()

    def _spill_excess(self) -> None:
        """Under the lock, while the database is away: move the oldest pending to disk."""
        excess = len(self._pending) - self.memory_events
        if excess <= 0:
            return
        chunks = []
        while excess > 0:
            n = min(excess, self.max_batch)
            chunks.append((uuid.uuid4().hex, [self._pending.popleft() for _ in range(n)]))
            excess -= n
        self._spill.push(chunks)
        moved = sum(len(e) for _, e in chunks)
        self._stats.spilled += moved
        log.warning("database unreachable: %d events spilled to %s", moved,
                    self._spill.directory)

    def _set_aside(self, batch: Batch) -> None:
        """Under the lock: a batch that keeps failing for no database reason goes to a
        ``.poison`` file beside the spill files, so it cannot block the events after it."""
        path = self._spill.directory / f"{self._spill.tag}-{batch.batch_id}.poison"
        try:
            with open(path, "wb") as f:
                pickle.dump([(batch.batch_id, batch.events)], f)
        except (OSError, pickle.PicklingError) as exc:
            log.error("could not write %s: %s", path, exc)
        log.error("EVENT BATCH SET ASIDE: %d events that keep failing are kept in %s",
                  len(batch.events), path)
        self._inflight.remove(batch)
        if batch.ours:
            self._done += len(batch.events)
            self._inflight_ours -= len(batch.events)
        self._cond.notify_all()

    def _park(self) -> None:
        """Under the lock, on close while the database is away: everything to disk."""
        for ours in (True, False):  # one segment per owner kind, oldest first
            chunks = [(b.batch_id, b.events) for b in self._inflight if b.ours == ours]
            if chunks:
                self._spill.push_front(chunks, ours)
        rest = list(self._pending)
        self._pending.clear()
        if rest:
            self._spill.push([(uuid.uuid4().hex, rest)])
        self._inflight = []
        self._inflight_ours = 0
        if self._spill.events:
            log.warning("event writer closed with the database unreachable: %d events "
                        "kept in %s for the next writer", self._spill.events,
                        self._spill.directory)

    # -- database work ------------------------------------------------------------------

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

    def _lost_connection(self, exc: Exception) -> None:
        with self._cond:
            self._stats.last_error = str(exc).strip()
        log.warning("event writer: database unreachable (%s); will retry",
                    str(exc).strip() or type(exc).__name__)
        self._close_connection()

    def _close_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass
            self._conn = None

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

    def _write_batch(self, batch: Batch) -> None:
        conn = self._connection()
        if batch.suspect:
            row = conn.execute("SELECT n FROM writer_batches WHERE batch_id = %s",
                               (batch.batch_id,)).fetchone()
            conn.commit()
            if row is not None:
                log.info("batch %s was committed before the connection broke",
                         batch.batch_id)
                return
        self._refresh(conn, batch.events)
        encoded = encode_batch(batch.events, self._cameras, self._tag, self._texts)
        for event, reason in encoded.rejected:
            self._reject(event, reason)
        if not encoded.events:
            return
        if not self._timescale:
            self._ensure_days(conn, encoded.days)
        try:
            with conn.cursor() as cur:
                before = self._lock_ids(cur)
                self._copy(cur, encoded.payload)
                stored = encoded.events
                self._finish(cur, batch.batch_id, len(stored), before)
            conn.commit()
        except _TRANSIENT:
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
            if not stored:
                return
        last = self._last_id
        with self._cond:
            self._stats.stored += len(stored)
            self._stats.batches += 1
            self._stats.last_id = last

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
        self._last_id = row[0]

    def _bisect(self, cur: psycopg.Cursor, events: list[GeoEvent], payload: bytes
                ) -> list[GeoEvent]:
        """COPY under a savepoint; on refusal split in halves. Returns what was stored."""
        cur.execute("SAVEPOINT vigil_part")
        try:
            self._copy(cur, payload)
            cur.execute("RELEASE SAVEPOINT vigil_part")
            return events
        except _TRANSIENT:
            raise
        except psycopg.Error as exc:
            cur.execute("ROLLBACK TO SAVEPOINT vigil_part")
            if len(events) == 1:
                self._reject(events[0], InvalidEvent(
                    "event", events[0].camera_id,
                    f"refused by the database: {str(exc).strip()}"))
                return []
        half = len(events) // 2
        stored = []
        for part in (events[:half], events[half:]):
            enc = encode_batch(part, self._cameras, self._tag, self._texts)
            stored += self._bisect(cur, enc.events, enc.payload)
        return stored

    def _ensure_days(self, conn: psycopg.Connection, days) -> None:
        missing = [int(d) for d in days if int(d) not in self._days]
        if not missing:
            return
        lo = _EPOCH + timedelta(days=min(missing))
        hi = _EPOCH + timedelta(days=max(missing))
        conn.execute("SELECT vigil_ensure_event_partitions(%s, %s)", (lo, hi))
        conn.commit()
        self._days.update(range(min(missing), max(missing) + 1))

    def _reject(self, event: GeoEvent, reason: InvalidEvent) -> None:
        with self._cond:
            self._stats.rejected += 1
            key = f"{reason.field}: {reason.reason}"
            self._stats.rejected_by_reason[key] = self._stats.rejected_by_reason.get(key, 0) + 1
            count = self._stats.rejected_by_reason[key]
        self.rejections.append((event, reason))
        if count <= 10 or count % 1000 == 0:
            log.warning("event rejected (%s, %d so far): camera %s kind %s: %s", key, count,
                        getattr(event, "camera_id", "?"), getattr(event, "kind", "?"), reason)
        if self.on_reject is not None:
            self.on_reject(event, reason)
