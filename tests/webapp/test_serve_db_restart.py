"""`vigil serve` on its embedded PostgreSQL, in a real subprocess: after `kill -9` of the
postmaster, the database is restarted and sign-in works again without restarting vigil."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from store.settings import REPO_ROOT
from tests.webapp.test_serve import Serve, _sign_in

WAIT_S = 120.0


class EmbeddedServe(Serve):
    """`vigil serve --port 0` on the embedded database of ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:  # noqa: D107 - no VIGIL_DATABASE_URL
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(VIGIL_STATE_DIR=str(state_dir), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", "webapp.cli", "serve", "--port",
                                      "0"], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()


def _postmaster(state_dir: Path) -> int | None:
    try:
        return int((state_dir / "pg" / "data" / "postmaster.pid").read_text().split("\n")[0])
    except (OSError, ValueError):       # between the old server and the new one
        return None


@pytest.mark.slow  # its own embedded server (initdb, migrations)
def test_sign_in_works_again_after_the_database_is_killed() -> None:
    state = Path(tempfile.mkdtemp(prefix="vigil-serve-", dir="/tmp"))
    state.chmod(0o711)  # the server's user (root runs) must enter it
    serve = EmbeddedServe(state)
    try:
        url = serve.wait_for(r"vigil map application on (http://127\.0\.0\.1:\d+)/",
                             timeout=WAIT_S)[1]
        password = serve.wait_for(r"password '([^']+)'")[1]
        assert _sign_in(url, password) == 200
        old = _postmaster(state)
        assert old is not None
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + WAIT_S
        statuses = []
        while True:
            statuses.append(_sign_in(url, password))
            if statuses[-1] == 200 and _postmaster(state) != old:
                break
            assert time.monotonic() < deadline, f"sign-in answered {statuses[-5:]}"
            assert serve.proc.poll() is None, "\n".join(serve.lines)
            time.sleep(0.5)
        assert set(statuses) <= {200, 503}, statuses      # never a 500
    finally:
        assert serve.stop() == 0
        shutil.rmtree(state, ignore_errors=True)
