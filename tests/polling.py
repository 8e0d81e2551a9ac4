"""Waiting in tests without wall-clock assumptions: poll a condition with a generous
bound and say what did not happen."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def poll_until(condition: Callable[[], T], what: str, within_s: float,
               every_s: float = 0.1) -> T:
    """The first truthy value of ``condition()``; AssertionError naming ``what`` if none
    comes within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        time.sleep(every_s)
