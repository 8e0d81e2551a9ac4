"""Password strength and hashing, and the throttle's window (no database)."""

from __future__ import annotations

import time

import pytest

from webapp.auth.passwords import hash_password, strength_problem, verify_password
from webapp.auth.throttle import LoginThrottle


@pytest.mark.parametrize("password, ok", [
    ("Ba-con-meo-7-tren-mai", True), ("correct horse battery staple", True),
    ("Short1!", False), ("password1234", False), ("aaaaaaaaaaaaaaaaaaaa", False),
    ("alllowercaseletters1", True), ("alllowercase", False), ("Chi.Huy-2026-x", False),
    (None, False), (12345678901234, False), ("x" * 300, False),
])
def test_strength(password, ok: bool) -> None:
    assert (strength_problem(password, "chi.huy") is None) is ok


def test_hash_is_scrypt_salted_and_verifies() -> None:
    first, second = hash_password("Ba-con-meo-7-tren-mai"), hash_password("Ba-con-meo-7-tren-mai")
    assert first.startswith("scrypt:") and first != second
    assert verify_password(first, "Ba-con-meo-7-tren-mai")
    assert not verify_password(first, "Ba-con-meo-7-tren-mai ")
    assert not verify_password(None, "x") and not verify_password("garbage$hash", "x")


def test_throttle_window() -> None:
    throttle = LoginThrottle(max_failures=2, window_s=0.5)
    throttle.failed("10.0.0.1", "admin")
    assert throttle.retry_after("10.0.0.1", "admin") == 0
    throttle.failed("10.0.0.1", "admin")
    assert throttle.retry_after("10.0.0.1", "admin") >= 1
    assert throttle.retry_after("10.0.0.2", "admin") == 0          # another address
    assert throttle.retry_after("10.0.0.1", "planner") == 0        # another user name
    time.sleep(0.6)
    assert throttle.retry_after("10.0.0.1", "admin") == 0          # the window passed
    for name in ("a", "b", "c", "d", "e", "f", "g", "h"):         # 4 × 2 per address
        throttle.failed("10.0.0.3", name)
    assert throttle.retry_after("10.0.0.3", "fresh-name") >= 1
    throttle.succeeded("10.0.0.1", "admin")
