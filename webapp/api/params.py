"""Query-string parsing for the API: each bad value becomes a 400 naming the parameter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, TypeVar

from flask import request

from store.model import MAX_FUTURE_SKEW
from webapp.errors import ApiError

T = TypeVar("T")


def _bad(name: str, value: Any, expected: str) -> ApiError:
    return ApiError(400, f"query parameter {name}={value!r}: {expected}", parameter=name)


def integer(name: str, default: int | None = None, *, lo: int | None = None,
            hi: int | None = None) -> int | None:
    """An integer parameter within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, raw, "expected an integer") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _bad(name, raw, f"expected an integer from {lo} to {hi}")
    return value


def timestamp(name: str, default: datetime | None = None) -> datetime | None:
    """An ISO 8601 timestamp (naive values are taken as UTC)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(name, raw, "expected an ISO 8601 time, e.g. 2026-11-21T08:00:00+07:00") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def choice_list(name: str, allowed: Any = None) -> list[str]:
    """A repeatable or comma-separated parameter, each value checked against ``allowed``."""
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",")
              if v.strip()]
    if allowed is not None:
        for v in values:
            if v not in allowed:
                raise _bad(name, v, f"expected one of {', '.join(sorted(allowed))}")
    return values


def boolean(name: str, default: bool = False) -> bool:
    """true/false/1/0."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise _bad(name, raw, "expected true or false")


def window(default_hours: int = 24, max_days: int = 366) -> tuple[datetime, datetime]:
    """``since``/``until`` (or ``hours`` back from now) as a checked UTC window; the
    default ``until`` allows for the camera clock skew the store accepts."""
    now = datetime.now(timezone.utc)
    hours = integer("hours", None, lo=1, hi=max_days * 24)
    until = timestamp("until", now + MAX_FUTURE_SKEW)   # cameras' clocks may run ahead
    try:
        since = timestamp("since", until - timedelta(hours=hours or default_hours))
    except OverflowError:                               # e.g. until=0001-01-01
        raise ApiError(400, "the time window starts before year 1", parameter="until") \
            from None
    if since >= until:
        raise ApiError(400, "since must be before until", parameter="since")
    if until - since > timedelta(days=max_days):
        raise ApiError(400, f"the time window may not exceed {max_days} days",
                       parameter="since")
    return since, until


def json_body(fields: dict[str, Callable[[Any], bool]], required: set[str], *,
              echo_values: bool = True, empty: bool = True) -> dict[str, Any]:
    """The request's JSON object, with only known fields, each passing its check.

    ``echo_values=False`` keeps values out of the error messages (passwords, tokens:
    the admin API); ``empty=False`` refuses a request without a body instead of reading
    it as ``{}``.
    """
    body = request.get_json(silent=True)
    if body is None and empty and not request.content_length:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", fields=unknown)
    for name in sorted(required - set(body)):
        raise ApiError(400, f"field {name!r} is required", field=name)
    for name, value in body.items():
        if not fields[name](value):
            shown = f": {value!r}" if echo_values else ""
            raise ApiError(400, f"field {name!r} has a bad value{shown}", field=name)
    return body
