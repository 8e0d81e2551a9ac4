"""Names typed by someone (wards, zones, cameras) inside the files vigil generates: the
hotspot report opened in a real Chromium runs no script and shows the names as text; the
report's CSV and the exports never hand a spreadsheet a formula."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from gis import grid
from tests.browser.conftest import seed_areas_and_cameras
from webapp.gis_cli import report_group

T0 = datetime(2026, 11, 16, 3, tzinfo=timezone.utc)
WARD_XSS = "<img src=x onerror=\"window.__xss=1;alert('ward')\">Phường Lửa"
ZONE_XSS = "<svg onload=\"window.__xss=2;alert('zone')\"></svg>Chợ <b>đêm</b>"
#: a ward name a spreadsheet would run: newline, spaces, then a formula
WARD_FORMULA = "\n  =HYPERLINK(\"http://evil.invalid\",\"An Thới\")"
INJECTED = ("document.querySelectorAll('img[src=\"x\"], svg[onload], .leaflet-tooltip b')"
            ".length")


def _seed_with_payloads(conn) -> None:  # noqa: ANN001
    """The browser tests' two wards, two zones, six cameras; payload names; incidents."""
    from store.migrate import ensure_partitions
    seed_areas_and_cameras(conn)
    conn.execute("UPDATE wards SET name = %s WHERE id = 'w-duong-dong'", (WARD_XSS,))
    conn.execute("UPDATE wards SET name = %s WHERE id = 'w-an-thoi'", (WARD_FORMULA,))
    conn.execute("UPDATE zones SET name = %s WHERE id = 'z-cho-dem'", (ZONE_XSS,))
    ensure_partitions(conn, T0.date(), (T0 + timedelta(days=2)).date())
    rows = []
    for k, (cam, ward, lon, lat) in enumerate([
            ("cam-01", "w-duong-dong", 103.9623, 10.2122),
            ("cam-04", "w-an-thoi", 103.9923, 10.2172)] * 6):
        rows.append((T0 + timedelta(minutes=7 * k), cam, "fight", lon, lat, ward,
                     grid.cell_id(lon, lat)))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO events (ts, camera_id, kind, lon, lat, ward_id, cell_id) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    conn.commit()


def _report(settings, tmp_path: Path) -> Path:  # noqa: ANN001
    out = tmp_path / "report.html"
    res = CliRunner().invoke(report_group, ["hotspots", "--from", "2026-11-16", "--to",
                                            "2026-11-18", "--out", str(out)], obj=settings)
    assert res.exit_code == 0, res.output
    return out


def _hover(page, lon: float, lat: float) -> str:  # noqa: ANN001
    """Move the real mouse over (lon, lat) of the report's map; the tooltip's text."""
    page.mouse.move(1, 1)
    page.wait_for_selector(".leaflet-tooltip", state="detached", timeout=5_000)
    x, y = page.evaluate(
        """([lon, lat]) => {
             const map = window[Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k))];
             const p = map.latLngToContainerPoint([lat, lon]);
             const box = map.getContainer().getBoundingClientRect();
             return [box.left + p.x, box.top + p.y];
           }""", [lon, lat])
    page.mouse.move(x - 5, y - 5)
    page.mouse.move(x, y)
    page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    return page.inner_text(".leaflet-tooltip")


@pytest.mark.browser
def test_report_shows_ward_and_zone_names_as_text_in_chromium(conn, settings, tmp_path,
                                                              browser):
    _seed_with_payloads(conn)
    out = _report(settings, tmp_path)
    ctx = browser.new_context()
    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
        ("file:", "data:", "about:", "blob:")) else r.abort())
    page = ctx.new_page()
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(out.as_uri())
        page.wait_for_selector(".leaflet-overlay-pane path")
        # a corner of Dương Đông that no camera sees (no coverage polygon over it)
        ward_tip = _hover(page, 103.952, 10.228)
        assert WARD_XSS in ward_tip
        # the zones layer starts hidden: show it as a planner would, then hover the market
        page.click(".leaflet-control-layers-overlays label:has-text('Khu vực') input")
        zone_tip = _hover(page, 103.9605, 10.2135)
        assert "Chợ <b>đêm</b>" in zone_tip and "<svg onload" in zone_tip
        assert page.evaluate("window.__xss") is None
        assert page.evaluate(INJECTED) == 0
        assert dialogs == [] and errors == []
        # the page as a planner reads it: names as typed, nowhere as markup
        assert page.evaluate("document.querySelectorAll('img, svg[onload]').length") == \
            page.evaluate("document.querySelectorAll('.leaflet-pane img').length")
    finally:
        ctx.close()


def test_report_csv_never_hands_a_spreadsheet_a_formula(conn, settings, tmp_path):
    _seed_with_payloads(conn)
    out = _report(settings, tmp_path)
    with open(out.with_suffix(".csv"), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    names = [cell for row in rows[1:] for cell in row if "HYPERLINK" in cell]
    assert names, rows
    assert all(cell.startswith("'") for cell in names), names
    # the HTML holds the names only as escaped text
    page = out.read_text(encoding="utf-8")
    assert "<img src=x onerror" not in page and "<svg onload" not in page


def test_planner_report_download_escapes_names(db_app, conn, login):
    """The same report as the planner page's download (/planner/hotspots.html)."""
    _seed_with_payloads(conn)
    client = db_app.test_client()
    login(client, "planner")
    answer = client.get("/planner/hotspots.html?from=2026-11-16&to=2026-11-17&lang=en"
                        "&ward=w-duong-dong")
    assert answer.status_code == 200, answer.data[:300]
    page = answer.get_data(as_text=True)
    assert "<img src=x onerror" not in page and "<svg onload" not in page
    assert "&lt;img src=x onerror=" in page                 # the name, as text
    assert '<html lang="en">' in page and "Vietnam time, UTC+7" in page
