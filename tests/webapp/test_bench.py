"""`vigil bench web` runs end to end at a tiny size (figures are for the benchmark, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.settings import load_settings
from webapp.bench import run_web_bench

pytestmark = pytest.mark.slow


def test_web_bench_delivers_every_alert_to_every_client(pg_admin_url: str,
                                                        tmp_path: Path) -> None:
    settings = load_settings({"database_url": pg_admin_url, "state_dir": tmp_path / "s"},
                             environ={})
    result = run_web_bench(settings, clients=3, rate=40, seconds=1, batch_ms=50)
    assert result.sent == 40
    assert result.received == 3 * 40
    assert 0 <= result.latencies_ms.min() < 60_000      # one clock for every process
    lines = result.report()
    assert any("p99" in line for line in lines) and "3 Socket.IO clients" in lines[0]
