"""Schemathesis against the app's own OpenAPI document: every operation, bounded random
examples (``SECURITY_FUZZ_EXAMPLES``, default 15), signed in as the admin (every route
open to it) on a really running server with seeded data. Zero server errors allowed."""

from __future__ import annotations

import os
import time

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase

from tests.webapp.web_testing import PASSWORD, WARD_A, WARD_B, insert_event, seed_areas

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "15"))
#: Signing out would end the run's own session; signing in is fuzzed by test_sessions.
SKIP = {("DELETE", "/session"), ("POST", "/session")}


def _session(url: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{url}/api/v1/session", json={"username": "admin",
                                                          "password": PASSWORD}, timeout=10)
    answer.raise_for_status()
    session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return session


def test_no_server_errors_on_random_requests(live_server, conn) -> None:
    seed_areas(conn)
    for camera, ward in (("cam-a", WARD_A), ("cam-b", WARD_B), ("cam-x", None)):
        insert_event(conn, camera, "intrusion", ward)
    server = live_server()
    session = _session(server.url)
    doc = session.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(doc)
    errors: list[str] = []
    counts = {"requests": 0, "operations": 0}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        counts["operations"] += 1

        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                             derandomize=True, phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=operation.as_strategy())
        def probe(case: schemathesis.Case) -> None:
            # our own session and CSRF token, not generated credentials
            case.headers = {k: v for k, v in (case.headers or {}).items()
                            if k.lower() not in ("authorization", "x-csrf-token", "cookie")}
            case.cookies = {}
            response = case.call(base_url=f"{server.url}/api/v1", session=session, timeout=20)
            counts["requests"] += 1
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.formatted_path} → "
                              f"{response.status_code}: {response.text[:200]}")
            if response.status_code == 401:          # never expected: we stay signed in
                errors.append(f"{case.method} {case.formatted_path} signed us out")

        probe()
    print(f"schemathesis: {counts['requests']} requests over {counts['operations']} "
          f"operations in {time.monotonic() - started:.1f} s")
    assert counts["operations"] >= 40
    assert errors == [], "\n".join(errors[:20])
