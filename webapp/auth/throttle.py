"""Sign-in throttling: too many failures from one address or for one user name → 429.

Failures are counted over a sliding window of ``LOGIN_WINDOW_S`` seconds: at most
``LOGIN_MAX_FAILURES`` per user name and address pair, and 4× that per address. A good
sign-in clears the pair's count. With a database the failures live in the
``sign_in_failures`` table (migration 0032), so every web process counts the same
failures and a restart forgets none; rows older than the window go as new ones come.
Without one (tests of the pages) they are counted in this process's memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from flask import current_app, has_app_context

from store import users as store_users

#: Address-wide limit, as a multiple of the per user-name limit.
ADDRESS_FACTOR = 4


class LoginThrottle:
    """Counts failed sign-ins; :meth:`retry_after` says how long a caller must wait."""

    def __init__(self, max_failures: int = 5, window_s: float = 300.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _db():  # noqa: ANN205 - psycopg.Connection or None
        if has_app_context() and current_app.config.get("DATABASE_URL"):
            from webapp.db import get_db
            return get_db()
        return None

    def _limits(self, remote: str, name: str) -> list[tuple[str, str | None, int]]:
        """(memory key, user name or None for the whole address, limit) per count."""
        return [(f"pair:{remote}:{name.lower()[:100]}", name, self.max_failures),
                (f"addr:{remote}", None, ADDRESS_FACTOR * self.max_failures)]

    def _wait_s(self, remote: str, name: str) -> dict[str, float]:
        """Seconds to wait per count ("user", "address"), 0 where not locked."""
        conn = self._db()
        waits = {}
        for key, who, limit in self._limits(remote, name):
            scope = "user" if who is not None else "address"
            if conn is not None:
                waits[scope] = store_users.sign_in_wait(conn, remote, who, limit,
                                                        self.window_s)
                continue
            now = time.monotonic()
            with self._lock:
                times = self._failures.get(key)
                while times and now - times[0] > self.window_s:
                    times.popleft()
                waits[scope] = self.window_s - (now - times[-limit]) \
                    if times and len(times) >= limit else 0.0
        return waits

    def retry_after(self, remote: str, name: str) -> int:
        """Seconds until this address may try this user name again (0: now)."""
        wait = max(self._wait_s(remote, name).values())
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, remote: str, name: str) -> list[str]:
        """Count one failure; which counts it locked ("user", "address"): the caller
        audits a lockout once, when it starts."""
        conn = self._db()
        if conn is not None:
            store_users.note_sign_in_failure(conn, remote, name, self.window_s)
        else:
            now = time.monotonic()
            with self._lock:
                if len(self._failures) > 100_000:     # bounded memory under a flood
                    self._failures.clear()
                for key, _who, _limit in self._limits(remote, name):
                    self._failures.setdefault(key, deque(maxlen=1000)).append(now)
        return [scope for scope, wait in self._wait_s(remote, name).items() if wait > 0]

    def succeeded(self, remote: str, name: str) -> None:
        """Forget the failures of this user name from this address."""
        conn = self._db()
        if conn is not None:
            store_users.clear_sign_in_failures(conn, remote, name)
            return
        with self._lock:
            self._failures.pop(self._limits(remote, name)[0][0], None)
