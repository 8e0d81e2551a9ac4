"""Query-string parsing for the API: each bad value becomes a 400 naming the parameter."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Sequence

from flask import request

from store.model import MAX_FUTURE_SKEW
from webapp.errors import ApiError

#: An integer as a query string writes it (``int()`` would also take "1_000", " 5", "٥").
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
#: RFC 3339 (the OpenAPI ``date-time`` format): date, ``T``, time, and an offset.
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)",
                      re.ASCII)
TIME_EXAMPLE = "2026-11-21T08:00:00+07:00"


def _bad(name: str, value: Any, expected: str) -> ApiError:
    return ApiError(400, f"query parameter {name}={value!r}: {expected}", parameter=name)


def single(name: str) -> str | None:
    """The value of a single-valued query parameter (None when absent); a parameter
    given twice is refused rather than one of its values silently dropped."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"query parameter {name} is given {len(values)} times: "
                            "give it once", parameter=name)
    return values[0] if values else None


def integer(name: str, default: int | None = None, *, lo: int | None = None,
            hi: int | None = None) -> int | None:
    """An integer parameter within [lo, hi]; an empty value is refused."""
    raw = single(name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw):
        raise _bad(name, raw, "expected an integer")
    try:
        value = int(raw)
    except ValueError:                  # more digits than Python converts (4,300)
        raise _bad(name, raw[:20] + "…", "expected an integer of fewer digits") from None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"from {lo} to {hi}" if lo is not None and hi is not None else \
            (f"of at least {lo}" if lo is not None else f"of at most {hi}")
        raise _bad(name, raw, f"expected an integer {bounds}")
    return value


def rfc3339(text: str) -> datetime | None:
    """``text`` as an aware datetime if it is an RFC 3339 time (offset required; a leap
    second reads as :59), else None."""
    match = _RFC3339.fullmatch(text.upper())
    if match is None:
        return None
    head, seconds, fraction, offset = match.groups()
    seconds = "59" if seconds == "60" else seconds
    try:
        return datetime.fromisoformat(f"{head}:{seconds}{fraction or ''}"
                                      f"{'+00:00' if offset == 'Z' else offset}")
    except ValueError:                                  # e.g. month 13, hour 25
        return None


def timestamp(name: str, default: datetime | None = None) -> datetime | None:
    """An RFC 3339 time with its offset (``Z`` or ``+07:00``); an empty value is refused."""
    raw = single(name)
    if raw is None:
        return default
    value = rfc3339(raw)
    if value is None:
        raise _bad(name, raw, f"expected a time with its offset, e.g. {TIME_EXAMPLE}")
    return value


def choice(name: str, allowed: Sequence[str], default: str) -> str:
    """A single-valued parameter that is one of ``allowed`` (``default`` when absent)."""
    raw = single(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise _bad(name, raw, f"expected one of {', '.join(allowed)}")
    return raw


def choice_list(name: str, allowed: Any = None) -> list[str]:
    """A repeatable or comma-separated parameter, each value exactly one of ``allowed``
    (when given; else ids, blanks around them dropped). An empty value filters nothing:
    a form's "all" choice sends ``kind=``."""
    values = []
    for raw in request.args.getlist(name):
        for v in raw.split(",") if raw else ():
            if allowed is None:
                values += [v.strip()] if v.strip() else []
            elif v in allowed:
                values.append(v)
            else:
                raise _bad(name, v, f"expected one of {', '.join(sorted(allowed))}")
    return values


def boolean(name: str, default: bool = False) -> bool:
    """true/false/1/0/yes/no; an empty value is refused."""
    raw = single(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise _bad(name, raw, "expected true or false")


#: The longest time window a query may ask for (``hours`` at most 24 × this).
MAX_WINDOW_DAYS = 366


def window(default_hours: int = 24,
           max_days: int = MAX_WINDOW_DAYS) -> tuple[datetime, datetime]:
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
