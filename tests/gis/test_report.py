"""The hotspot report end to end: store → CLI → HTML → headless Chromium with no network."""

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gis import grid
from gis.boundaries import load_shipped
from gis.report import offline_html
from gis.report_text import CATEGORIES
from store import areas
from webapp.gis_cli import gis_group, report_group

T0 = datetime(2026, 11, 16, tzinfo=timezone.utc)  # a Monday
CATEGORIES_BY_COLOUR = {colour: code for code, (colour, _vi, _en) in CATEGORIES.items()}
#: every filled shape of the map but the camera coverage (blue)
PAINTED = (".leaflet-overlay-pane path:not([fill='#3182bd']):not([fill-opacity='0'])"
           ":not([fill='none'])")


def _seed(conn):
    """Thanh Hóa's shipped wards and zones, 30 cameras, a week of incidents and heartbeats."""
    from store.migrate import ensure_partitions
    ensure_partitions(conn, T0.date(), (T0 + timedelta(days=8)).date())
    wards, zones = load_shipped("thanh-hoa")
    areas.replace_wards(conn, wards, "thanh-hoa")
    areas.replace_zones(conn, zones, "thanh-hoa")
    rng = np.random.default_rng(4)
    cams = []
    for k in range(30):
        lon, lat = 105.74 + 0.003 * (k % 10), 19.79 + 0.008 * (k // 10)
        cams.append((f"th-cam-{k:02d}", f"Camera {k}", lon, lat, 45.0 * (k % 8), 90.0, 120.0))
    # the square gets a busy camera: many incidents for the same watched hours
    cams.append(("th-cam-square", "Quảng trường Lam Sơn", 105.7766, 19.8075, 0.0, 360.0, 80.0))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO cameras (id, name, lon, lat, heading_deg, fov_deg, range_m,"
                        " status) VALUES (%s, %s, %s, %s, %s, %s, %s, 'online')", cams)
        beats = [(c[0], T0 + timedelta(minutes=5 * i), "online")
                 for c in cams for i in range(0, 7 * 24 * 12, 1)]
        cur.executemany("INSERT INTO camera_heartbeats (camera_id, ts, status) "
                        "VALUES (%s, %s, %s)", beats)
        rows = []
        for c in cams:
            n = 200 if c[0] == "th-cam-square" else int(rng.integers(2, 8))
            for _ in range(n):
                lon = c[2] + rng.normal(0, 0.0002)
                lat = c[3] + rng.normal(0, 0.0002)
                ts = T0 + timedelta(minutes=int(rng.integers(0, 7 * 24 * 60)))
                rows.append((ts, c[0], "fight" if _ % 3 == 0 else "intrusion", lon, lat,
                             grid.cell_id(lon, lat)))
        cur.executemany("INSERT INTO events (ts, camera_id, kind, lon, lat, cell_id) "
                        "VALUES (%s, %s, %s, %s, %s, %s)", rows)
    idx = areas.load_area_index(conn)
    conn.execute("UPDATE events SET ward_id = v.w FROM jsonb_to_recordset(%s) AS v(id bigint, w text)"
                 " WHERE events.id = v.id", (
                     __import__("psycopg").types.json.Jsonb([
                         {"id": i, "w": w} for (i, lo, la) in conn.execute(
                             "SELECT id, lon, lat FROM events").fetchall()
                         for w in [idx.tag_one(lo, la)[0]]]),))
    conn.commit()
    return len(rows)


def test_offline_html_refuses_unknown_cdn():
    page = '<script src="https://example.invalid/x.js"></script><img src="https://a/b.png">'
    with pytest.raises(RuntimeError, match="network"):
        offline_html(page)


def test_gis_import_cli_refuses_bad_file_and_writes_nothing(conn, settings, tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                   '"properties": {"name": "Ngoài"}, "geometry": {"type": "Polygon", '
                   '"coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}}]}')
    res = CliRunner().invoke(gis_group, ["import", "wards", str(bad), "--province",
                                         "thanh-hoa"], obj=settings)
    assert res.exit_code == 1 and "outside Vietnam" in res.output
    assert conn.execute("SELECT count(*) FROM wards").fetchone()[0] == 0
    res = CliRunner().invoke(gis_group, ["load-shipped", "phu-quoc"], obj=settings)
    assert res.exit_code == 0, res.output
    assert conn.execute("SELECT count(*) FROM zones").fetchone()[0] == 7


@pytest.mark.browser
@pytest.mark.slow
def test_report_opens_offline_in_chromium(conn, settings, tmp_path, browser):
    n = _seed(conn)
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_group, [
        "hotspots", "--from", "2026-11-16", "--to", "2026-11-23", "--out", str(out)],
        obj=settings)
    assert res.exit_code == 0, res.output
    assert "[100.0%]" in res.output  # progress was shown
    page = out.read_text(encoding="utf-8")
    import re
    assert not re.search(r"src=\"https?:|<link[^>]*href=\"https?:|url\([\"']?https?:", page)
    with open(out.with_suffix(".csv"), encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 20 and table[0]["category"].startswith("hot")
    assert table[0]["ward_id"] == "th-dien-bien"  # the busy square
    blocked = []
    ctx = browser.new_context()

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "about:", "blob:")) or "//127.0.0.1" in url:
            r.continue_()
        else:
            blocked.append(url)
            r.abort()
    ctx.route("**/*", route)
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(out.as_uri())
    pg.wait_for_selector(".leaflet-container")
    pg.wait_for_function("document.querySelectorAll('.leaflet-overlay-pane path').length > 40")
    n_paths = pg.eval_on_selector_all(".leaflet-overlay-pane path", "els => els.length")
    # raw incident density is not a finding: its layer is off until a planner turns it on
    heat_off = pg.eval_on_selector_all("canvas.leaflet-heatmap-layer", "els => els.length")
    pg.click(".leaflet-control-layers-overlays label:has-text('Mật độ') input")
    heat = pg.eval_on_selector_all("canvas.leaflet-heatmap-layer", "els => els.length")
    labels = pg.eval_on_selector_all(".leaflet-control-layers-overlays label",
                                     "els => els.map(e => e.textContent.trim())")
    legend = pg.inner_text("#vigil-legend")
    legend_categories = pg.eval_on_selector_all("#vigil-legend [data-category]",
                                                "els => els.map(e => e.dataset.category)")
    top_rows = pg.eval_on_selector_all("#top-table tr", "els => els.length")
    top_n = pg.eval_on_selector_all("#top-table tr td:nth-child(5)",
                                    "els => els.map(e => Number(e.textContent))")
    hot = int(pg.inner_text("#hot-count"))
    header = pg.inner_text("header.vigil")
    fills = set(pg.eval_on_selector_all(PAINTED, "els => els.map(e => e.getAttribute('fill'))"))
    shots = Path(__file__).resolve().parents[2] / "test-artifacts" / "gis"
    shots.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(shots / "report.png"), full_page=True)
    ctx.close()
    assert blocked == [] and errors == []
    assert n_paths >= 47  # 47 wards + coverage + hotspot cells
    assert heat_off == 0 and heat == 1
    assert any("xấp xỉ" in t for t in labels) and any("điểm nóng" in t for t in labels)
    assert any("Vùng camera thấy" in t for t in labels)
    assert "xấp xỉ" in legend and "XẤP XỈ" in header
    # header, table, legend and colours agree
    assert top_rows == 21 and hot >= 1 and hot == sum(
        1 for row in table if row["category"].startswith("hot"))
    assert all(v > 0 for v in top_n) and [float(r["z"]) for r in table] == sorted(
        (float(r["z"]) for r in table), reverse=True)
    painted = {CATEGORIES_BY_COLOUR.get(c, c) for c in fills}
    assert painted == set(legend_categories) and "hot-99" in painted
    assert "Không có điểm nóng" not in header
    # times in Vietnam's time zone: --from 2026-11-16 is midnight there
    assert "16/11/2026 00:00" in header and "23/11/2026 00:00" in header
    assert "giờ Việt Nam, UTC+7" in header
    assert n > 200


def _seed_quiet_ward(conn):
    """The browser tests' two wards (Dương Đông, An Thới) and six cameras; 12 fights."""
    from store.migrate import ensure_partitions
    from tests.browser.conftest import seed_areas_and_cameras
    seed_areas_and_cameras(conn)
    ensure_partitions(conn, T0.date(), (T0 + timedelta(days=2)).date())
    rows = [(T0 + timedelta(hours=3, minutes=7 * k), "cam-01", "fight", 103.9623, 10.2122,
             "w-duong-dong", grid.cell_id(103.9623, 10.2122)) for k in range(12)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO events (ts, camera_id, kind, lon, lat, ward_id, cell_id) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    conn.commit()


def _quiet_report(settings, tmp_path, *extra):
    out = tmp_path / f"quiet{'-'.join(extra)}.html"
    res = CliRunner().invoke(report_group, [
        "hotspots", "--from", "2026-11-16", "--to", "2026-11-18", "--ward", "w-duong-dong",
        "--kind", "fight", "--out", str(out), *extra], obj=settings)
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.browser
def test_a_report_without_hotspots_says_so_and_colours_nothing(conn, settings, tmp_path,
                                                               browser):
    _seed_quiet_ward(conn)
    out = _quiet_report(settings, tmp_path)
    ctx = browser.new_context()
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:", "blob:")) else r.abort())
    pg = ctx.new_page()
    try:
        pg.goto(out.as_uri())
        pg.wait_for_selector(".leaflet-overlay-pane path")
        header = pg.inner_text("header.vigil")
        why = pg.get_attribute("#no-hotspots-why", "data-reason")
        painted = pg.eval_on_selector_all(PAINTED, "els => els.length")
        legend = pg.inner_text("#vigil-legend")
        cells = pg.eval_on_selector_all(
            "#top-table tr", "els => els.slice(1).map(r => [...r.cells].map(c => c.textContent))")
        shots = Path(__file__).resolve().parents[2] / "test-artifacts" / "gis"
        shots.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(shots / "report-no-hotspots.png"), full_page=True)
    finally:
        ctx.close()
    # one ward, 12 incidents: said plainly, with the reason, and nothing is coloured
    assert "0 ô lưới và 0 phường là điểm nóng" in header
    assert "Không có điểm nóng có ý nghĩa thống kê trong kỳ này." in header
    assert why == "few_incidents" and "12 sự việc" in header
    assert painted == 0 and "không tô màu" in legend
    # the period in Vietnam's time, the ward and the kind by name
    assert "16/11/2026 00:00" in header and "18/11/2026 00:00" in header
    assert "giờ Việt Nam, UTC+7" in header
    assert "phường Dương Đông" in header and "w-duong-dong" not in header
    assert "loại: Ẩu đả" in header
    # the top list: only cells where something happened, with the ward's name
    assert cells and all(int(row[4]) > 0 for row in cells)
    assert {row[2] for row in cells} == {"Dương Đông"}
    assert {row[10] for row in cells} == {"Không đủ dữ liệu để kiểm định"}


def test_report_in_english(conn, settings, tmp_path):
    _seed_quiet_ward(conn)
    page = _quiet_report(settings, tmp_path, "--lang", "en").read_text(encoding="utf-8")
    assert '<html lang="en">' in page
    assert "No statistically significant hotspot in this period." in page
    assert "Too few incidents to tell a cluster from chance: 12 incidents" in page
    assert "2026-11-16 00:00" in page and "Vietnam time, UTC+7" in page
    assert "ward(s) Dương Đông" in page and "kinds: Fight" in page
    assert "Không có điểm nóng" not in page


def test_report_cli_refuses_unknown_ward_and_kind(conn, settings, tmp_path):
    _seed_quiet_ward(conn)
    out = tmp_path / "r.html"
    res = CliRunner().invoke(report_group, ["hotspots", "--from", "2026-11-16", "--to",
                                            "2026-11-18", "--ward", "w-nowhere", "--out",
                                            str(out)], obj=settings)
    assert res.exit_code == 1 and "unknown ward 'w-nowhere'" in res.output
    res = CliRunner().invoke(report_group, ["hotspots", "--from", "2026-11-16", "--to",
                                            "2026-11-18", "--kind", "figth", "--out",
                                            str(out)], obj=settings)
    assert res.exit_code == 2 and "'figth' is not one of" in res.output
    assert not out.exists() and not out.with_suffix(".csv").exists()


def test_hot_wards_without_hot_cells_are_not_called_no_hotspot():
    """The header never says 'no hotspot' next to a ward it colours as one."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from gis.hotspots import HotspotResult
    from gis.report import build_report
    wards = gpd.GeoDataFrame({"id": ["a", "b"], "name": ["Phường A", "Phường B"],
                              "approximate": [True, True]},
                             geometry=[shapely.box(105.70, 19.70, 105.71, 19.71),
                                       shapely.box(105.71, 19.70, 105.72, 19.71)], crs=4326)
    cells = pd.DataFrame({"cell_id": [grid.cell_id(105.705, 19.705)], "lon": [105.705],
                          "lat": [19.705], "n": [3], "exposure_h": [10.0], "rate": [0.3],
                          "z": [np.nan], "p": [np.nan], "q": [np.nan], "category": ["ns"]})
    ward_stats = pd.DataFrame({"ward_id": ["a", "b"], "name": ["Phường A", "Phường B"],
                               "n": [40, 1], "exposure_h": [10.0, 10.0], "rate": [4.0, 0.1],
                               "z": [2.8, -0.5], "p": [0.005, 0.6], "q": [0.01, 0.6],
                               "category": ["hot-99", "ns"]})
    result = HotspotResult(T0, T0 + timedelta(days=1), cells, ward_stats, np.zeros((7, 24),
                           dtype=int), 41, 0, camera_hours=20.0)
    incidents = {"lon": np.array([105.705]), "lat": np.array([19.705])}
    page, _ = build_report(result, wards, [], incidents)
    assert "<b id='hot-count'>0</b> ô lưới và <b id='hot-wards'>1</b> phường" in page
    assert "Không ô lưới nào là điểm nóng có ý nghĩa thống kê (chỉ phường)." in page
    assert "Không có điểm nóng có ý nghĩa thống kê trong kỳ này." not in page
    assert "data-category='hot-99'" in page          # the legend shows the ward's colour
