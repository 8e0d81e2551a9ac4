"""Schemathesis hooks for the rules of vigil's API that JSON Schema cannot state, so that
schema-valid ("positive") requests are also valid to the server. Each rule is written
in the OpenAPI document's descriptions, and the server refuses a breach with a 400 (or
422) naming the parameter or field; these hooks only make the generated positive cases
keep them. Negative cases are left alone, and so are the values they mutate.

- a time window: ``since`` before ``until`` and at most 366 days before it (the
  defaults: ``until`` now, ``since`` ``hours`` before ``until``);
- a password: the strength rule of :func:`webapp.auth.passwords.strength_problem`;
- a hotlist plate: a Vietnamese plate (:func:`store.watchlist.normalise_plate`);
- the wards of a user, API token or kiosk token: stored wards.

And one rule of the test itself: the run never changes the users it is signed in as
(:data:`SIGNED_IN`), or it would sign itself out.

Used by tests/security/test_fuzz.py; by hand::

    SCHEMATHESIS_HOOKS=tests.security.schemathesis_hooks st run URL/api/v1/openapi.json …
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import schemathesis

from store.model import MAX_FUTURE_SKEW
from webapp.api.params import MAX_WINDOW_DAYS, rfc3339
from webapp.auth.passwords import strength_problem

#: Users the fuzz run is signed in as: never patched (a new password would end the run's
#: own session, disabling them its next run).
SIGNED_IN = frozenset({"admin", "commander"})
#: 16 characters of 3 kinds; no two neighbours are both user-name characters, so no user
#: name (2+ of a-z 0-9 . _ -) can be inside it.
STRONG_PASSWORD = "Q#7$K!2%W&9*R@4^"
PLATE = "51G-123.45"
#: The wards the fuzz run's database holds (tests.webapp.web_testing.seed_areas): a
#: user's or token's wards must be stored ones.
WARDS = ("ward-a", "ward-b")
_WINDOWED = ("since", "until", "hours")


def _positive(case: schemathesis.Case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


def _window_ok(query: dict[str, Any]) -> bool:
    """Whether the server's window rules hold for ``query`` (or a parameter is unreadable:
    then the case is not positive after all and is left alone)."""
    values = {k: query.get(k) for k in _WINDOWED}
    if any(isinstance(v, list) for v in values.values()):
        return True
    since = rfc3339(values["since"]) if isinstance(values["since"], str) else None
    until = rfc3339(values["until"]) if isinstance(values["until"], str) else None
    if (values["since"] is not None and since is None) \
            or (values["until"] is not None and until is None):
        return True
    # without ``hours`` a route takes 1 to 30 days back from ``until``: check the longest
    hours = values["hours"] if isinstance(values["hours"], int) else 30 * 24
    try:
        until = until or datetime.now(timezone.utc) + MAX_FUTURE_SKEW
        since = since or until - timedelta(hours=hours)
    except OverflowError:
        return False
    return since < until and until - since <= timedelta(days=MAX_WINDOW_DAYS)


def _fix_window(case: schemathesis.Case) -> None:
    query = case.query
    if isinstance(query, dict) and any(k in query for k in _WINDOWED) \
            and not _window_ok(query):
        # the same request over the default window (hours back from now) keeps the rules
        for key in ("since", "until"):
            query.pop(key, None)


def _fix_body(case: schemathesis.Case) -> None:
    body = case.body
    if not isinstance(body, dict):
        return
    path = case.operation.path
    password = body.get("password")
    if path.startswith("/admin/users") and isinstance(password, str) \
            and 12 <= len(password) <= 256:
        name = body.get("name") or (case.path_parameters or {}).get("name") or ""
        if strength_problem(password, str(name)):
            body["password"] = STRONG_PASSWORD
    wards = body.get("wards")
    if path.startswith("/admin/") and isinstance(wards, list) and wards:
        body["wards"] = [w if w in WARDS else WARDS[i % 2] for i, w in enumerate(wards)]
    if path == "/recognition/hotlist" and isinstance(body.get("plate"), str):
        from store.watchlist import normalise_plate
        try:
            normalise_plate(body["plate"])
        except ValueError:
            body["plate"] = PLATE


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    """Keep the cross-field and semantic rules in positive cases; spare the run's users."""
    params = case.path_parameters or {}
    if case.operation.path.startswith("/admin/users/") and params.get("name") in SIGNED_IN:
        params["name"] = f"{params['name']}-x"
    if _positive(case):
        _fix_window(case)
        _fix_body(case)
    return case
