"""Maintenance rounds: housekeeping keeps every rollup vacuumed (index-only scans)."""

from store.db import connect
from store.maintenance import maintain


def test_housekeeping_vacuums_every_rollup(db_url, settings):
    with connect(db_url) as conn:
        conn.autocommit = True
        result = maintain(conn, settings)
        assert result.dropped == 0
        vacuumed = {r[0] for r in conn.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE vacuum_count > 0")}
    assert {"heatmap_rollup", "heatmap_cell_span", "heatmap_kind_span",
            "ward_kind_span"} <= vacuumed
