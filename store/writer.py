"""The event writer: GeoEvents in, committed rows out, by batched binary COPY.

``submit`` queues an event (never blocks on the database). A background thread takes
what is queued once there are ``writer_batch_rows`` events or the oldest has waited
``writer_batch_ms`` and hands it to :class:`store.batches.BatchStore`, which validates
and encodes it (:mod:`store.copy_events`) and writes it in one transaction (advisory id
lock → binary COPY → ``writer_batches`` row + NOTIFY → COMMIT), so id order is commit
order across all writers: a reader that has seen id N has seen every id below N
(replay-by-id and the rollup watermark rely on it). An event counts as stored only after
the commit. This module is the other half: buffering, spilling, retrying, ordering.

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
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterable

from store.batches import ID_LOCK_KEY, NOTIFY_CHANNEL, TRANSIENT, Batch, BatchStore
from store.model import GeoEvent, InvalidEvent
from store.settings import Settings, load_settings
from store.spill import SpillQueue

log = logging.getLogger(__name__)

__all__ = ["EventWriter", "WriterStats", "Batch", "ID_LOCK_KEY", "NOTIFY_CHANNEL"]
MAX_BATCH_FACTOR = 20    # a flush takes up to this many times writer_batch_rows
BACKOFF_FIRST_S = 0.05   # the first retry after a failure; doubled up to BACKOFF_MAX_S
BACKOFF_MAX_S = 5.0
OUTAGE_SUMMARY_S = 30.0  # while the database stays away, one summary line this often
IDLE_WAIT_S = 1.0        # an idle writer looks around this often (submit wakes it anyway)


@dataclass
class WriterStats:
    """Counters of one writer (a snapshot from :attr:`EventWriter.stats`).

    Every event handed to ``submit``/``submit_many`` is counted in ``submitted`` and ends
    in exactly one of ``stored``, ``rejected``, ``overflowed`` or (not yet) ``buffered``;
    adopted events (another writer's spill) are stored or rejected on top of that."""

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
        self._outage = _Outage()
        self._store = BatchStore(url, self._reject,
                                 retention=timedelta(days=settings.retention_days))
        self._thread = threading.Thread(target=self._run, name="vigil-writer", daemon=True)
        self._thread.start()

    # -- producer side ------------------------------------------------------------------

    def submit(self, event: GeoEvent) -> bool:
        """Queue one event; False when the buffer is full (counted as overflow)."""
        with self._cond:
            if self._closing:
                raise RuntimeError("the writer is closed")
            self._stats.submitted += 1
            if len(self._pending) + self._spill.own_events + self._inflight_ours >= self.bound:
                self._overflow(1)
                return False
            first = not self._pending
            if first:
                self._oldest = time.monotonic()
            self._pending.append(event)
            self._accepted += 1
            if first or len(self._pending) >= self.batch_rows:
                # The first event starts the writer's writer_batch_ms clock; a full
                # batch goes at once. (An idle writer would otherwise sleep a second.)
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
            self._stats.submitted += len(events)
            if len(take) < len(events):
                self._overflow(len(events) - len(take))
            first = bool(take) and not self._pending
            if first:
                self._oldest = time.monotonic()
            self._pending.extend(take)
            self._accepted += len(take)
            if first or len(self._pending) >= self.batch_rows:
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
            self._cond.wait(IDLE_WAIT_S)

    def _run(self) -> None:
        backoff = BACKOFF_FIRST_S
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
                backoff = BACKOFF_FIRST_S
                self._outage.end(self._stats_snapshot)
            except TRANSIENT as exc:
                self._lost_connection(exc)
                with self._cond:
                    for b in batches:
                        b.suspect = True
                    self._stats.retries += 1
                    self._spill_excess()
                    self._sleep(backoff)
                    if self._abort:
                        self._park()
                        break
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            except Exception:  # noqa: BLE001 - keep the thread alive; log and retry
                failures += 1
                log.exception("event writer: unexpected error (%d in a row)", failures)
                with self._cond:
                    for b in batches:
                        b.suspect = True
                    if failures >= 5 and batches:
                        self._set_aside(batches[0])
                        failures = 0
                    self._sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            else:
                failures = 0
        self._store.close()
        self._spill.close()

    def _sleep(self, seconds: float) -> None:
        """Under the lock: wait out a retry backoff. New events, flushes and other
        notifications do not cut it short (they would turn the doubling backoff into a
        retry per submitted batch); only closing with the database away (abort) does."""
        deadline = time.monotonic() + seconds
        while not self._abort:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(left)

    def _stats_snapshot(self) -> WriterStats:
        return self.stats

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
        self._outage.spilled(moved, self._spill.directory)

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

    # -- database work (store.batches) -------------------------------------------------

    def _lost_connection(self, exc: Exception) -> None:
        with self._cond:
            self._stats.last_error = str(exc).strip()
        self._outage.failed(str(exc).strip() or type(exc).__name__, self._stats_snapshot)
        self._store.close()

    def _write_batch(self, batch: Batch) -> None:
        stored = self._store.write(batch)
        if stored:
            with self._cond:
                self._stats.stored += stored
                self._stats.batches += 1
                self._stats.last_id = self._store.last_id

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


class _Outage:
    """What the writer logs while the database is away: one line when the outage
    starts, a summary every :data:`OUTAGE_SUMMARY_S` while it lasts, one when it ends."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.retries = 0
        self.spilled_events = 0
        self._summary_at = 0.0

    def failed(self, error: str, stats: Callable[[], WriterStats]) -> None:
        """A write failed for a connection reason (called from the writer thread)."""
        now = time.monotonic()
        self.retries += 1
        if self.since is None:
            self.since, self._summary_at = now, now
            log.warning("event writer: database unreachable (%s); events are buffered "
                        "and retried with backoff up to %.0f s", error, BACKOFF_MAX_S)
        elif now - self._summary_at >= OUTAGE_SUMMARY_S:
            self._summary_at = now
            snap = stats()
            log.warning("event writer: database unreachable for %.0f s (%s): %d retries, "
                        "%d events buffered, %d spilled to disk", now - self.since, error,
                        self.retries, snap.buffered, self.spilled_events)

    def spilled(self, n: int, directory: Path) -> None:
        """``n`` events went to spill files (logged once per outage, then in summaries)."""
        if self.spilled_events == 0:
            log.warning("event writer: memory buffer full; spilling the oldest events "
                        "to %s", directory)
        self.spilled_events += n

    def end(self, stats: Callable[[], WriterStats]) -> None:
        """A batch was written: if an outage was on, say it is over."""
        if self.since is None:
            return
        log.warning("event writer: database reachable again after %.1f s and %d retries "
                    "(%d events spilled meanwhile); %d events still to write",
                    time.monotonic() - self.since, self.retries, self.spilled_events,
                    stats().buffered)
        self.since = None
        self.retries = 0
        self.spilled_events = 0
