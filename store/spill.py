"""Spill files: where a writer parks events while the database is unreachable.

Each writer owns a tag (``<start ns>-<pid>``) with a lock file it holds (``flock``) while
it lives; its segments are ``<tag>-<first seq>.spill`` files, each a pickled list of
``(batch_id, events)`` pairs, read back oldest first. A writer that starts finds the
segments of writers that died (their lock is free), adopts them and writes them before
its own events, so events parked by a crashed process are not lost either.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import time
from collections import deque
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class SpillQueue:
    """FIFO of event chunks on disk under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.tag = f"{time.time_ns():020d}-{os.getpid()}"
        self._lock = open(self.directory / f"{self.tag}.lock", "w")  # noqa: SIM115
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._segments: deque[tuple[Path, int, bool]] = deque()  # (file, events, ours)
        self.events = 0  # events in segments not yet taken
        self._adopted_files = 0
        self._pushed = 0

    def adopt_orphans(self) -> int:
        """Take over the segments of dead writers (before our own); returns their events."""
        adopted = 0
        for lock_path in sorted(self.directory.glob("*.lock")):
            tag = lock_path.stem
            if tag == self.tag:
                continue
            with open(lock_path, "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer
                for path in sorted(self.directory.glob(f"{tag}-*.spill")):
                    try:
                        count = sum(len(events) for _, events in self._read(path))
                    except (OSError, pickle.UnpicklingError, EOFError) as exc:
                        log.error("unreadable spill file %s kept aside: %s", path, exc)
                        path.rename(path.with_suffix(".bad"))
                        continue
                    self._adopted_files += 1
                    mine = self.directory / f"{self.tag}-{0:015d}-a{self._adopted_files:06d}.spill"
                    path.rename(mine)  # ours now: found again if we die too
                    self._segments.append((mine, count, False))
                    self.events += count
                    adopted += count
                lock_path.unlink(missing_ok=True)
        if adopted:
            # Adopted segments are older than anything we write: they go first.
            own = [s for s in self._segments if s[2]]
            other = [s for s in self._segments if not s[2]]
            self._segments = deque(other + own)
            log.warning("adopted %d events spilled by a writer that died", adopted)
        return adopted

    @staticmethod
    def _read(path: Path) -> list[tuple[str, list[Any]]]:
        with open(path, "rb") as f:
            return pickle.load(f)

    def push(self, chunks: list[tuple[str, list[Any]]]) -> None:
        """Append chunks (oldest first) as one new segment."""
        count = sum(len(events) for _, events in chunks)
        if not count:
            return
        self._pushed += 1
        path = self.directory / f"{self.tag}-{self._pushed:015d}.spill"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(chunks, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        tmp.rename(path)
        self._segments.append((path, count, True))
        self.events += count

    def push_front(self, chunks: list[tuple[str, list[Any]]], ours: bool = True) -> None:
        """Park chunks that are older than every segment (a batch being retried)."""
        count = sum(len(events) for _, events in chunks)
        if not count:
            return
        path = self.directory / f"{self.tag}-{0:015d}-0{time.time_ns()}.spill"
        with open(path, "wb") as f:
            pickle.dump(chunks, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        self._segments.appendleft((path, count, ours))
        self.events += count

    def pop(self) -> tuple[list[tuple[str, list[Any]]], bool, int]:
        """The oldest segment: its chunks (the file is removed), whether they are ours and
        how many events it held (an unreadable file is set aside as ``.bad``)."""
        if not self._segments:
            return [], True, 0
        path, count, ours = self._segments.popleft()
        self.events -= count
        try:
            chunks = self._read(path)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            log.error("SPILL FILE UNREADABLE, %d events set aside in %s: %s", count,
                      path.with_suffix(".bad"), exc)
            path.rename(path.with_suffix(".bad"))
            return [], ours, count
        path.unlink(missing_ok=True)
        return chunks, ours, count

    @property
    def own_events(self) -> int:
        """Events in segments this writer spilled itself (not adopted ones)."""
        return sum(count for _, count, ours in self._segments if ours)

    def __len__(self) -> int:
        return len(self._segments)

    def close(self) -> None:
        """Release the lock; leftover segments stay, in order, for the next writer."""
        if not self._segments:
            (self.directory / f"{self.tag}.lock").unlink(missing_ok=True)
        else:
            staged = []
            for i, (path, count, ours) in enumerate(self._segments):
                tmp = path.with_name(f"{self.tag}-renumber-{i:06d}.tmp")
                path.rename(tmp)
                staged.append(tmp)
            for i, tmp in enumerate(staged):
                tmp.rename(tmp.with_name(f"{self.tag}-{i:015d}.spill"))
        self._lock.close()
