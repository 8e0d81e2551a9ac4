"""`vigil bench store` on a small scale: it runs and its figures are sane (no timing goals)."""

from __future__ import annotations

from store.bench import run_bench
from store.settings import load_settings


def test_bench_small(pg_admin_url, tmp_path):
    settings = load_settings({"database_url": pg_admin_url, "state_dir": tmp_path},
                             environ={})
    lines: list[str] = []
    out = run_bench(settings, n_events=30_000, writer_events=3_000, cameras=50, days=10,
                    queries=8, echo=lines.append)
    assert out["writer_eps"] > 0 and out["copy_eps"] > 0 and out["server_eps"] > 0
    assert any(line.startswith("server alone, pre-encoded binary COPY") for line in lines)
    assert set(out["heatmap_ms"]) == {f"{w} {k}" for w in ("1 h", "24 h", "7 d", "30 d")
                                      for k in ("every kind", "one kind", "one ward",
                                                "kind+ward")}
    assert any(line.startswith("rollup rows: ") for line in lines)
    assert any(line.startswith("rollup refresh (what the maintainer does): 30,000 events")
               for line in lines)
    assert any(line.startswith("writer: 3,000 events") for line in lines)
    median, worst = out["lone_event_ms"]
    assert 0 < median <= worst
    assert any(line.startswith("lone event submit → NOTIFY: median") for line in lines)
    again = run_bench(settings, n_events=0, writer_events=0, cameras=50, days=10,
                      queries=4, echo=lines.append, heatmap_only=True)
    assert set(again["heatmap_ms"]) == set(out["heatmap_ms"])
    assert any("reusing vigil_bench: 30,000 events" in line for line in lines)
