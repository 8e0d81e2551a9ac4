"""What a person reads, in a real Chromium (an English browser in UTC): local times
(Asia/Ho_Chi_Minh, no microseconds) and names on the searches, audit logs and /admin;
/admin styled and in the menu; refusals as messages in the page's language; the alert
count beyond the list's cap; ward lists within the user's scope; badges and chart labels
that do not wrap or overlap."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import pytest

from store.migrate import ensure_partitions
from store.model import EVENT_KINDS
from store.users import add_user
from tests.browser.conftest import (CAMERAS, USERS, WARDS, ZONES, screenshot, sign_in_form,
                                    wait_until)
from webapp.auth.passwords import hash_password

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ADMIN, ADMIN_PASSWORD = "quan.tri", "Quan-tri-vien-2026!"
SCOPED, SCOPED_PASSWORD = "chi.huy.dd", "Chi-huy-Duong-Dong-2026!"
CAMERA_NAMES = {c[0]: c[1] for c in CAMERAS}
LOCAL = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$")


def local(ts: datetime) -> str:
    """How the pages must write an instant."""
    return ts.astimezone(HCM).strftime("%d/%m/%Y %H:%M:%S")


@pytest.fixture
def signed_in(browser: Any, site: Any) -> Iterator[Any]:
    """``signed_in(user, password, size=(1600, 900))``: a page signed in through /login in
    an English, UTC browser (the pages choose language and time zone)."""
    contexts, errors = [], []

    def open_(user: str, password: str | None = None,
              size: tuple[int, int] = (1600, 900)) -> Any:
        context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                      locale="en-US", timezone_id="UTC")
        contexts.append(context)
        page, page_errors = sign_in_form(context, site.url, user,
                                         password or USERS[user]["password"])
        errors.append(page_errors)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert [e for page_errors in errors for e in page_errors     # refusals' statuses only
            if not re.search(r"status of (400|409) ", e)] == []


def test_event_and_plate_search_show_local_times_and_names(signed_in, site):
    # microseconds and a UTC day that differs from the local one (17:30 UTC = 00:30 +7)
    ts = (datetime.now(timezone.utc) - timedelta(hours=2)).replace(microsecond=123456)
    plate_ts = ts - timedelta(minutes=3)
    event_id = site.event("cam-01", "intrusion", ts=ts)
    site.event("cam-04", "plate_read", ts=plate_ts,
               attributes={"plate": "68-B1 234.56", "plate_compact": "68B123456"})
    page = signed_in("chi.huy")
    page.goto(f"{site.url}/recognition?search=events&hours=24")
    row = page.locator(f"tr[data-event='{event_id}']")
    assert row.locator("td.time").inner_text() == local(ts)
    assert row.locator("td.camera").inner_text() == "Chợ đêm cổng chính"
    assert row.locator("td.ward").inner_text() == "Dương Đông"
    assert row.locator("td.zone").inner_text() == "Chợ đêm <Dinh Cậu>"
    assert "Xâm nhập" in row.inner_text() and "Mới" in row.inner_text()
    table = page.inner_text("#event-search table")
    assert "UTC" not in table and ".123" not in table and "cam-0" not in table
    assert all(LOCAL.match(t) for t in page.locator("#event-search td.time").all_inner_texts())
    page.goto(f"{site.url}/recognition?plate=b1%20234")
    found = page.locator("#plate-search tbody tr")
    assert found.count() == 1
    assert found.locator("td.time").inner_text() == local(plate_ts)
    assert "Cảng cổng A" in found.inner_text() and "Đọc biển số" in found.inner_text()
    english = page.goto(f"{site.url}/recognition?search=events&hours=24&lang=en")
    assert english.ok
    assert "Zone intrusion" in page.locator(f"tr[data-event='{event_id}']").inner_text()
    assert page.locator(f"tr[data-event='{event_id}'] td.time").inner_text() == local(ts)
    screenshot(page, "recognition-local")


def test_search_refusals_and_the_export_limit_are_messages(signed_in, site):
    site.app.config["EXPORT_MAX_ROWS"] = 2
    page = signed_in("chi.huy")
    page.goto(f"{site.url}/recognition?search=events&hours=0")
    assert page.inner_text("#event-search [role=alert]") == \
        "Khoảng thời gian: “0” không hợp lệ."
    page.goto(f"{site.url}/recognition?search=events&hours=24")
    limit = page.inner_text("#event-export-limit")
    assert limit.startswith("6 sự kiện khớp bộ lọc") and "tối đa 2" in limit
    assert page.locator("#event-export-csv").count() == 0      # no link to a JSON refusal
    # the commander's export button: a notice in the page's language, not the API's words
    page.goto(f"{site.url}/")
    page.wait_for_selector(READY, timeout=15_000)
    page.click("#export-csv")
    page.wait_for_selector("#vigil-notice:not([hidden])")
    notice = page.inner_text("#vigil-notice")
    assert notice.startswith("Có hơn 2 sự kiện khớp bộ lọc") and "{n}" not in notice
    page.goto(f"{site.url}/?lang=en")
    page.wait_for_selector(READY, timeout=15_000)
    page.click("#export-json")
    page.wait_for_selector("#vigil-notice:not([hidden])")
    assert page.inner_text("#vigil-notice").startswith(
        "More than 2 events match these filters and an export holds at most 2:")


def test_admin_page_is_styled_in_the_menu_local_and_refuses_in_words(signed_in, site):
    add_user(site.conn, ADMIN, "admin", None, hash_password(ADMIN_PASSWORD))
    add_user(site.conn, SCOPED, "commander", ["w-an-thoi"], hash_password(SCOPED_PASSWORD))
    page = signed_in(ADMIN, ADMIN_PASSWORD)
    page.click("nav.vigil-nav a[data-nav='admin']")              # the menu leads there
    page.wait_for_selector("table.admin-audit")
    assert page.url.endswith("/admin")
    assert page.get_attribute("nav a[data-nav='admin']", "aria-current") == "page"
    # the site's stylesheet: dark cards, the header fixed at the top, collapsed tables
    style = page.evaluate("""() => {
        const card = getComputedStyle(document.querySelector('.doc-card'));
        return {bg: card.backgroundColor, radius: card.borderTopLeftRadius,
                header: getComputedStyle(document.querySelector('.vigil-header')).position,
                table: getComputedStyle(document.querySelector('table.admin-audit'))
                    .borderCollapse,
                body: getComputedStyle(document.body).backgroundColor}; }""")
    assert style == {"bg": "rgb(12, 19, 34)", "radius": "6px", "header": "fixed",
                     "table": "collapse", "body": "rgb(7, 11, 20)"}
    # local times without microseconds, names rather than codes
    (signed_at,) = site.conn.execute("SELECT max(at) FROM audit_log WHERE action = 'login' "
                                     "AND actor = %s", (ADMIN,)).fetchone()
    login_row = page.locator("table.admin-audit tbody tr", has_text="Đăng nhập").first
    assert login_row.locator("td.time").inner_text() == local(signed_at)
    times = page.locator("table.admin-audit td.time").all_inner_texts()
    assert times and all(LOCAL.match(t) for t in times)
    user_row = page.locator(f"tr[data-user='{SCOPED}']")
    assert "An Thới" in user_row.inner_text() and "w-an-thoi" not in user_row.inner_text()
    assert "Chỉ huy" in user_row.inner_text()
    admin_row = page.locator(f"tr[data-user='{ADMIN}']")
    assert LOCAL.match(admin_row.locator("td.time").inner_text())
    assert "UTC" not in page.inner_text("main")
    screenshot(page, "admin")
    # disabling the last admin: a message on the page, in Vietnamese, nothing changed
    admin_row.locator("button[type=submit]").click()
    page.wait_for_selector("#admin-error")
    assert page.inner_text("#admin-error").startswith(
        f"{ADMIN} là quản trị viên cuối cùng đang hoạt động")
    assert page.locator("table.admin-users").count() == 1         # the page, not JSON
    (disabled,) = site.conn.execute("SELECT disabled FROM users WHERE name = %s",
                                    (ADMIN,)).fetchone()
    assert disabled is False
    assert page.get_attribute("a[data-lang=en]", "href").endswith("next=/admin")
    # the recognition page's audit log: local times, actions in words
    page.goto(f"{site.url}/recognition")
    (viewed_at,) = site.conn.execute("SELECT max(at) FROM audit_log WHERE action = "
                                     "'hotlist.list'").fetchone()
    viewed = page.locator("#audit tbody tr", has_text="Xem danh sách biển số theo dõi").first
    assert viewed.locator("td.time").inner_text() == local(viewed_at)
    assert "hotlist.list" not in page.inner_text("#audit")
    page.goto(f"{site.url}/admin?lang=en")
    assert page.inner_text("h1") == "Administration"
    page.locator(f"tr[data-user='{ADMIN}'] button[type=submit]").click()
    page.wait_for_selector("#admin-error")
    assert page.inner_text("#admin-error").startswith(
        f"{ADMIN} is the last enabled administrator and cannot be disabled")


def test_a_scoped_commander_sees_only_the_wards_of_the_scope(signed_in, site):
    add_user(site.conn, SCOPED, "commander", ["w-an-thoi"], hash_password(SCOPED_PASSWORD))
    page = signed_in(SCOPED, SCOPED_PASSWORD)
    page.wait_for_selector(READY, timeout=15_000)
    wards = page.eval_on_selector_all("#f-ward option", "o => o.map(x => x.value)")
    assert wards == ["", "w-an-thoi"]
    zones = page.eval_on_selector_all("#f-zone option", "o => o.map(x => x.value)")
    assert zones == ["", "z-cang"]
    api = page.request.get(f"{site.url}/api/v1/wards").json()
    assert [f["id"] for f in api["features"]] == ["w-an-thoi"]
    page.goto(f"{site.url}/planner")
    page.wait_for_selector(READY, timeout=20_000)
    assert page.eval_on_selector_all("#p-ward option", "o => o.map(x => x.value)") == \
        ["", "w-an-thoi"]
    page.goto(f"{site.url}/recognition?search=events&hours=24")
    assert page.eval_on_selector_all("select[name=ward] option", "o => o.map(x => x.value)") \
        == ["", "w-an-thoi"]
    # an unscoped commander still gets both
    other = signed_in("chi.huy")
    other.wait_for_selector(READY, timeout=15_000)
    assert other.locator("#f-ward option").count() == 1 + len(WARDS)
    assert other.locator("#f-zone option").count() == 1 + len(ZONES)


def _open_alerts(site: Any) -> int:
    (n,) = site.conn.execute(
        "SELECT count(*) FROM events e LEFT JOIN alert_state a ON a.event_id = e.id "
        "WHERE e.kind = ANY(%s) AND e.ts >= now() - interval '24 hours' "
        "AND coalesce(a.status, 'new') <> 'resolved'",
        ([k for k, spec in EVENT_KINDS.items() if spec.is_alert],)).fetchone()
    return int(n)


def test_the_alert_header_counts_every_open_alert_beyond_the_list_cap(signed_in, site):
    now = datetime.now(timezone.utc)
    ensure_partitions(site.conn, (now - timedelta(days=1)).date(), now.date())
    site.conn.execute(
        "INSERT INTO events (ts, camera_id, kind, severity, lon, lat, ward_id) "
        "SELECT now() - make_interval(secs => g * 7), 'cam-06', 'intrusion', 2, 104.0003, "
        "10.2302, 'w-an-thoi' FROM generate_series(1, 330) g")
    site.conn.execute(                       # resolved ones do not count as open
        "INSERT INTO alert_state (event_id, status, updated_by, updated_at) "
        "SELECT id, 'resolved', 'truc.ban', now() FROM events WHERE camera_id = 'cam-06' "
        "ORDER BY id LIMIT 5")
    expected = _open_alerts(site)
    assert expected > 300
    page = signed_in("chi.huy")
    page.wait_for_selector(READY, timeout=20_000)
    assert page.locator("#alert-list .alert-item").count() == 300
    wait_until(page, f"document.getElementById('alert-count').textContent === '({expected})'",
               timeout_s=10)
    assert page.inner_text("#alert-list-note") == \
        f"Danh sách hiển thị 300 cảnh báo mới nhất trong số {expected}."
    # a live alert adds one; the header follows the server
    site.event("cam-04", "fight")
    wait_until(page, f"document.getElementById('alert-count').textContent === "
                     f"'({expected + 1})'", timeout_s=15)
    # the ward filter narrows the count too (cam-01's alert is in Dương Đông)
    page.select_option("#f-ward", "w-duong-dong")
    wait_until(page, "document.getElementById('alert-count').textContent === '(1)'",
               timeout_s=10)
    assert page.locator("#alert-list-note").is_hidden()
    screenshot(page, "commander-count")


@pytest.mark.parametrize("size", [(1600, 900), (1280, 800)])
def test_simulated_badges_stay_on_one_line(signed_in, site, size):
    site.event("cam-05", "camera_scene_change", attributes={"simulated": True})
    page = signed_in("chi.huy", size=size)
    page.wait_for_selector(READY, timeout=15_000)
    page.click("#alert-list .alert-item:has(.sim-badge:not([hidden]))")
    page.wait_for_selector("#detail-timeline .sim-badge")
    lines = page.evaluate("""() => [...document.querySelectorAll(
            '#detail-timeline .sim-badge, #alert-list .sim-badge:not([hidden])')].map(b => {
        const range = document.createRange();
        range.selectNodeContents(b);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; })""")
    assert len(lines) >= 2 and set(lines) == {1}, lines
    assert page.inner_text("#detail-timeline .sim-badge") == "MÔ PHỎNG"
    screenshot(page, f"sim-badge-{size[0]}")


AXIS_LABELS = """() => {
    const u = document.getElementById('chart-series').uplot;
    const axis = u.axes[0];
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = Array.isArray(axis.font) ? axis.font[0] : axis.font;
    const ratio = window.devicePixelRatio || 1;
    return axis._splits.map((x, i) => {
        const text = String(axis._values[i]);
        const width = Math.max(...text.split('\\n').map(l => ctx.measureText(l).width)) / ratio;
        const centre = u.valToPos(x, 'x');
        return {x, text, left: centre - width / 2, right: centre + width / 2};
    }); }"""


def _check_axis(page: Any) -> list[dict[str, Any]]:
    labels = page.evaluate(AXIS_LABELS)
    assert 3 <= len(labels) <= 12, labels
    for a, b in zip(labels, labels[1:]):
        assert b["left"] - a["right"] >= 8, (a, b)              # no overlap, some air
    for label in labels:                                          # Asia/Ho_Chi_Minh
        when = datetime.fromtimestamp(label["x"], HCM)
        lines = label["text"].split("\n")
        assert lines[0] in (when.strftime("%d/%m"), when.strftime("%H:%M")), label
        assert lines[1:] in ([], [when.strftime("%d/%m")]), label
    return labels


@pytest.mark.parametrize("size", [(1600, 900), (1280, 800)])
def test_planner_series_axis_labels_are_local_and_apart(signed_in, site, size):
    page = signed_in("ke.hoach", size=size)
    page.goto(f"{site.url}/planner")
    page.wait_for_selector(READY, timeout=20_000)
    wait_until(page, "document.getElementById('chart-series').uplot !== undefined")
    week = _check_axis(page)                                      # 7 days: one label a day
    assert all(re.fullmatch(r"\d{2}/\d{2}", label["text"]) for label in week)
    today = datetime.now(HCM).date().isoformat()                  # one day: hours
    page.fill("#p-from", today)
    page.fill("#p-to", today)
    page.click("#period button[type=submit]")
    wait_until(page, "document.getElementById('chart-series').uplot.axes[0]._values"
                     ".some(v => String(v).includes(':'))", timeout_s=10)
    day = _check_axis(page)
    assert any("\n" in label["text"] for label in day)           # the day under its first tick
    screenshot(page, f"planner-axis-{size[0]}")
