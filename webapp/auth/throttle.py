"""Sign-in throttling: too many failures from one address or for one user name → 429.

Failures are counted in memory per process over a sliding window (the web app is one
process); a success clears the user name's count. Limits: ``LOGIN_MAX_FAILURES`` per
user name and address pair and 4× that per address within ``LOGIN_WINDOW_S`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class LoginThrottle:
    """Counts failed sign-ins; :meth:`retry_after` says how long a caller must wait."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, remote: str, name: str) -> list[tuple[str, int]]:
        return [(f"pair:{remote}:{name.lower()[:100]}", self.max_failures),
                (f"addr:{remote}", 4 * self.max_failures)]

    def retry_after(self, remote: str, name: str) -> int:
        """Seconds until this address may try this user name again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(remote, name):
                times = self._failures.get(key)
                if not times:
                    continue
                while times and now - times[0] > self.window_s:
                    times.popleft()
                if len(times) >= limit:
                    wait = max(wait, self.window_s - (now - times[0]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, remote: str, name: str) -> None:
        """Count one failure."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:     # bounded memory under a flood
                self._failures.clear()
            for key, _limit in self._keys(remote, name):
                self._failures.setdefault(key, deque(maxlen=1000)).append(now)

    def succeeded(self, remote: str, name: str) -> None:
        """Forget the failures of this user name from this address."""
        with self._lock:
            self._failures.pop(self._keys(remote, name)[0][0], None)
