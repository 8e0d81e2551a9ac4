"""Schemathesis against the app's own OpenAPI document, on a really running server with
seeded data: every operation, every default check — no server error, and conformance
(status codes, content types, response headers and bodies as documented; schema-valid
requests accepted, schema-violating ones refused; 405 with ``Allow``; requests without
credentials refused) — signed in as the admin (every route open to it) and as a
ward-scoped commander (the admin API refused to it).

Schemathesis' own runner (``st run``) does the work: for the admin its examples,
coverage (boundary and invalid values of every parameter, undeclared methods) and
fuzzing phases; for the commander examples and fuzzing (the coverage phase's cases do
not depend on the role). Fuzzing is bounded by ``SECURITY_FUZZ_EXAMPLES`` (default 8)
examples per operation and mode, with a fixed seed (``SECURITY_FUZZ_SEED``). Rules the
document can only state in words (a window's ``since`` before its ``until``, a strong
password, a Vietnamese plate) are kept in the generated valid cases by
tests/security/schemathesis_hooks.py. Signing in and out is fuzzed by test_sessions;
here it would end the run's own session.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from tests.webapp.web_testing import PASSWORD, WARD_A, WARD_B, insert_event, seed_areas

EXAMPLES = int(os.environ.get("SECURITY_FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("SECURITY_FUZZ_SEED", "20261121")
ST = Path(sys.executable).with_name("st")
REPO = Path(__file__).resolve().parents[2]
#: The checks ``st run`` makes by default, named so that none drops out unnoticed.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
          "unsupported_method", "allow_header_conformance", "ignored_auth")
PHASES = {"admin": "examples,coverage,fuzzing", "commander": "examples,fuzzing"}
#: schemathesis.toml: the session cookie and CSRF token go through the document's own
#: security schemes (so that its "no credentials" cases are known as such).
CONFIG = """\
[generation]
# documented: text with a NUL character is refused with 400 (PostgreSQL cannot keep it)
allow-x00 = false

[checks.negative_data_rejection]
# a body over the app's 64 KiB (MAX_CONTENT_LENGTH) is refused with 413 before its
# fields are read: as much a refusal of bad data as a 400
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                     "428", "429", "5xx"]

[auth.openapi.session]
api_key = "{session}"

[auth.openapi.csrf]
api_key = "{csrf}"
"""


def _sign_in(url: str, user: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{url}/api/v1/session",
                          json={"username": user, "password": PASSWORD}, timeout=10)
    answer.raise_for_status()
    session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return session


def _failures(junit: Path) -> tuple[int, list[str]]:
    """How many operations the JUnit report holds, and its failures."""
    operations, failures = 0, []
    for case in ET.parse(junit).getroot().iter("testcase"):
        operations += 1
        for failure in [*case.iter("failure"), *case.iter("error")]:
            text = (failure.get("message") or "") + (failure.text or "")
            failures.append(f"{case.get('name')}: {text[:1500]}")
    return operations, failures


def _run(url: str, user: str, workdir: Path) -> tuple[int, str, list[str]]:
    """``st run`` as ``user``: (operations tested, phase times, failures)."""
    session = _sign_in(url, user)
    document = workdir / "openapi.json"          # the document itself needs a session
    document.write_bytes(session.get(f"{url}/api/v1/openapi.json", timeout=10).content)
    config = workdir / f"{user}.toml"
    config.write_text(CONFIG.format(session=session.cookies["session"],
                                    csrf=session.headers["X-CSRF-Token"]), encoding="utf-8")
    junit = workdir / f"{user}.xml"
    done = subprocess.run(
        [str(ST), "--config-file", str(config), "--no-color", "run", str(document),
         "--url", f"{url}/api/v1", "--checks", ",".join(CHECKS), "--phases", PHASES[user],
         "--max-examples", str(EXAMPLES), "--seed", SEED, "--workers", "1",
         "--exclude-path", "/session", "--request-timeout", "30",
         "--report", "junit", "--report-junit-path", str(junit)],
        cwd=workdir, capture_output=True, text=True, timeout=900,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.security.schemathesis_hooks",
             "PYTHONPATH": str(REPO)})
    output = done.stdout + done.stderr
    assert junit.exists(), output[-3000:]
    operations, failures = _failures(junit)
    assert done.returncode == 0 or failures, output[-3000:]
    # nothing in the run signed the session out
    still = session.get(f"{url}/api/v1/session", timeout=10).json()["user"]
    assert still is not None and still["name"] == user, f"the run signed {user} out"
    phases = ", ".join(f"{name} {took}" for name, took in
                       re.findall(r"(\w+) \(in ([\d.]+s)\)", output))
    return operations, phases, failures


@pytest.mark.slow
def test_the_api_conforms_to_its_document(live_server, conn, tmp_path: Path) -> None:
    seed_areas(conn)
    for camera, ward in (("cam-a", WARD_A), ("cam-b", WARD_B), ("cam-x", None)):
        insert_event(conn, camera, "intrusion", ward)
    server = live_server()
    started = time.monotonic()
    report = []
    for user in PHASES:
        operations, phases, failures = _run(server.url, user, tmp_path)
        report.append(f"{user}: {operations} operations ({phases})")
        assert operations >= 40, report
        assert failures == [], f"as {user}:\n" + "\n\n".join(failures[:10])
    print(f"schemathesis: {'; '.join(report)}; {time.monotonic() - started:.1f} s")
