"""The three pages in a real Chromium against the real app, database and sockets."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import (CAMERAS, USERS, WALL_TOKEN, WARDS, ZONES, screenshot,
                                    wait_until)

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"


def test_wall_draws_every_camera_and_both_heatmaps(open_page, site):
    site.app.config["WALL"] = {"cycle_s": 1}
    page = open_page(f"/wall?token={WALL_TOKEN}")
    page.wait_for_selector(READY, timeout=15_000)
    assert page.locator(".leaflet-control-zoom").count() == 0     # kiosk: no controls
    assert page.evaluate("document.body.dataset.cameras") == str(len(CAMERAS))
    # one canvas per heat layer, with points from the rollups and the crowd samples
    wait_until(page, "document.body.dataset.heatIncidents > 0 "
                     "&& document.body.dataset.heatCrowd > 0")
    assert page.locator("canvas.vigil-heat-incidents").count() == 1
    assert page.locator("canvas.vigil-heat-crowd").count() == 1
    # the seeded alerts: pins, ticker, counters; the legend warns about boundaries
    assert page.locator(".vigil-pin").count() == 2      # the 2 h old one has faded out
    assert page.locator("#ticker li").count() == 3
    # times are Asia/Ho_Chi_Minh (UTC+7) although the browser runs in UTC
    ts = site.conn.execute("SELECT ts FROM events WHERE kind = 'abandoned_object'").fetchone()[0]
    local = ts.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M:%S")
    assert local in page.inner_text("#ticker")
    assert page.inner_text("#kpi-online") == "4/6"
    assert "gần đúng" in page.inner_text(".vigil-legend")
    # camera and zone names from the database are text, never markup
    assert "Chợ đêm <Dinh Cậu>" in page.inner_text("#map")
    # idle, the wall flies from area to area and names the one it shows
    names = {w[1] for w in WARDS} | {z[1] for z in ZONES}
    wait_until(page, "document.getElementById('wall-area').textContent !== "
                     "document.querySelector('[data-area-all]').dataset.areaAll")
    assert page.inner_text("#wall-area") in names
    screenshot(page, "wall")
    site.check_clean()


def test_commander_lists_alerts_and_shows_camera_detail(open_page, site):
    page = open_page("/", user="chi.huy")
    page.wait_for_selector(READY, timeout=15_000)
    items = page.locator("#alert-list .alert-item")
    assert items.count() == 3
    assert page.locator("#f-ward option").count() == 3        # all + two wards
    page.select_option("#f-ward", "w-an-thoi")
    wait_until(page, "document.querySelectorAll('#alert-list .alert-item').length == 2")
    page.click("#alert-list .alert-item[data-event-id='2']")     # the abandoned object
    page.wait_for_selector("#camera-detail:not([hidden]) #detail-timeline li time")
    assert page.inner_text("#detail-name") == "Cảng cổng A"
    page.wait_for_selector("#detail-image:not([hidden])")
    wait_until(page, "document.getElementById('detail-image').naturalWidth === 160")
    screenshot(page, "commander")
    site.check_clean()


def test_planner_draws_heatmap_charts_and_coverage(open_page, site):
    page = open_page("/planner", user="ke.hoach")
    page.wait_for_selector(READY, timeout=20_000)
    assert int(page.evaluate("document.body.dataset.heatIncidents")) > 0
    assert page.locator("#chart-kinds li[data-kind]").count() == 3
    assert page.locator("#chart-series .uplot").count() == 1
    assert int(page.evaluate("document.body.dataset.coverage")) > 0
    # the crowd-density heatmap over the period: the peak sample of each cell
    page.select_option("#p-heat", "crowd")
    page.click("#period button[type=submit]")
    (cells,) = site.conn.execute("SELECT count(DISTINCT cell_id) FROM events "
                                 "WHERE kind = 'crowd_sample'").fetchone()
    wait_until(page, f"document.body.dataset.heatIncidents === '{cells}'")
    href = page.get_attribute("#report-link", "href")
    assert href.startswith("/planner/hotspots.html?from=")
    report = page.request.get(site.url + href)        # the folium report, as a download
    assert report.status == 200, report.text()[:500]
    assert "attachment" in report.headers["content-disposition"]
    assert "leaflet" in report.text().lower()
    # everything the report loads is inside it: no script or stylesheet from elsewhere
    found = re.findall(r"""<(?:script|img|iframe)\b[^>]*\bsrc\s*=\s*\\?["']?(?:https?:)?//"""
                       r"""|<link\b[^>]*\bhref\s*=\s*\\?["']?(?:https?:)?//""", report.text())
    assert not found, found
    screenshot(page, "planner")
    site.check_clean()


def test_language_switch(open_page, site):
    page = open_page("/", user="truc.ban")
    page.wait_for_selector(READY, timeout=15_000)
    assert page.get_attribute("html", "lang") == "vi"
    assert page.inner_text(".vigil-nav").split()[0] == "Chỉ"
    page.click(".vigil-lang a[data-lang='en']")
    page.wait_for_selector(READY, timeout=15_000)
    assert page.get_attribute("html", "lang") == "en"
    assert "Commander" in page.inner_text(".vigil-nav")
    assert "Acknowledge" in page.inner_text("#alert-list")         # JS strings too
    assert "Zone intrusion" in page.inner_text("#alert-list")      # event-kind labels
    screenshot(page, "commander-en")
    site.check_clean()


def _live_wall(open_page):
    page = open_page(f"/wall?token={WALL_TOKEN}")
    page.wait_for_selector("body[data-ready='true'][data-subscribed='true']", timeout=15_000)
    return page


def test_event_stored_in_the_database_appears_as_a_pin_within_a_second(open_page, site):
    page = _live_wall(open_page)
    event_id = site.event("cam-06", "fight")            # committed when this returns
    page.wait_for_selector(f".vigil-pin[data-event-id='{event_id}']", timeout=1_000)
    # a critical alert takes the wall to it and names it
    assert page.evaluate("document.body.dataset.critical") == str(event_id)
    assert page.inner_text("#wall-area") == "Ẩu đả · Đường 30/4"
    assert page.locator(f"#ticker li[data-event-id='{event_id}']").count() == 1
    assert page.locator(f"#ticker li[data-event-id='{event_id}'] .sim-badge").count() == 0
    # the demo's simulator labels its events; the wall says so
    simulated = site.event("cam-01", "loitering", attributes={"simulated": True})
    page.wait_for_selector(f"#ticker li[data-event-id='{simulated}'] .sim-badge", timeout=5_000)
    # a camera-health event recolours the camera at once and is counted
    site.event("cam-06", "camera_offline")
    wait_until(page, "document.getElementById('kpi-offline').textContent === '2'")
    screenshot(page, "wall-live-pin")
    site.check_clean()


def test_wall_replays_what_it_missed_while_the_server_was_down(open_page, site):
    page = _live_wall(open_page)
    wait_until(page, "document.body.dataset.heatCrowd !== undefined "
                     "&& document.body.dataset.heatIncidents !== undefined")
    site.stop()
    page.wait_for_selector("body[data-live='offline']", timeout=10_000)
    missed = [site.event("cam-02", "loitering"), site.event("cam-04", "intrusion")]
    site.start()                                          # same port, a fresh app
    for event_id in missed:
        page.wait_for_selector(f".vigil-pin[data-event-id='{event_id}']", timeout=20_000)
    assert page.evaluate("document.body.dataset.lastEventId") == str(missed[-1])
    # the pins drawn before the restart are still there, once each
    assert page.locator(".vigil-pin").count() == 4
    # the browser logs the failed reconnection attempts while the server is down
    site.console_errors[:] = [e for e in site.console_errors if "/socket.io/" not in e
                              and "ERR_CONNECTION_REFUSED" not in e
                              and "ERR_CONNECTION_RESET" not in e]
    site.check_clean()


def test_acknowledge_in_one_browser_updates_another(open_page, site):
    first = open_page("/", user="chi.huy")
    second = open_page("/", user="truc.ban")
    for page in (first, second):
        page.wait_for_selector("body[data-ready='true'][data-subscribed='true']",
                               timeout=15_000)
    item = ".alert-item[data-event-id='1']"
    assert second.get_attribute(f"{item} .alert-state", "data-status") == "new"
    first.click(f"{item} button[data-action='acknowledge']")
    second.wait_for_selector(f"{item} .alert-state[data-status='acknowledged']", timeout=5_000)
    first.fill(f"{item} .assign-to", "Tổ tuần tra 3")
    first.click(f"{item} button[data-action='assign']")
    second.wait_for_selector(f"{item} .alert-state[data-status='assigned']", timeout=5_000)
    assert "Tổ tuần tra 3" in second.inner_text(f"{item} .alert-assignee")
    second.click(f"{item} button[data-action='resolve']")
    # resolved alerts leave the "open" list in both browsers
    first.wait_for_selector(item, state="detached", timeout=5_000)
    second.wait_for_selector(item, state="detached", timeout=5_000)
    # a new alert reaches both lists live
    event_id = site.event("cam-03", "fight")
    for page in (first, second):
        page.wait_for_selector(f".alert-item[data-event-id='{event_id}']", timeout=5_000)
    screenshot(second, "commander-shared")
    site.check_clean()


def test_a_refused_action_says_why_in_the_pages_language(open_page, site):
    """The API's messages are English (for API clients); the person reads the reason in
    Vietnamese (English with lang=en), and the server's words only where they name a
    bad value."""
    page = open_page("/", user="chi.huy")
    page.wait_for_selector("body[data-ready='true'][data-subscribed='true']", timeout=15_000)
    item = ".alert-item[data-event-id='1']"
    # resolved meanwhile by a change this page does not hear of: the list still shows it
    site.conn.execute("INSERT INTO alert_state (event_id, status, updated_by) "
                      "VALUES (1, 'resolved', 'truc.ban')")
    page.click(f"{item} button[data-action='acknowledge']")
    page.wait_for_selector("#vigil-notice[data-level='error']:not([hidden])", timeout=10_000)
    notice = page.inner_text("#vigil-notice")
    assert notice == "Không lưu được: người khác vừa thay đổi mục này; hãy tải lại rồi " \
        "thử lại", notice
    assert "resolved" not in notice and "cannot" not in notice
    site.console_errors[:] = [e for e in site.console_errors if "409" not in e]
    site.check_clean()


def test_sign_in_through_the_login_page(open_page, site):
    page = open_page("/planner")                         # not signed in: the login page
    page.wait_for_selector("form.login-form")
    assert "/login" in page.url
    assert page.get_attribute("html", "lang") == "vi"
    page.fill("input[name=username]", "ke.hoach")
    page.fill("input[name=password]", "sai-mat-khau")
    page.click("button[type=submit]")
    assert "Sai tên đăng nhập" in page.inner_text(".login-error")
    screenshot(page, "login")
    page.fill("input[name=username]", "ke.hoach")
    page.fill("input[name=password]", USERS["ke.hoach"]["password"])
    page.click("button[type=submit]")
    page.wait_for_selector(READY, timeout=20_000)         # back where it was going
    assert page.url.endswith("/planner")
    screenshot(page, "planner-after-login")
    site.console_errors[:] = [e for e in site.console_errors   # the 401 of the wrong password
                              if "status of 401" not in e]
    site.check_clean()
