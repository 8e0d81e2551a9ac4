"""Violation layers, incident pins, the demo banner and the wall's framing, in a real
Chromium against the real app, database and sockets."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from store.model import EVENT_KINDS
from store.readers import refresh_heatmap
from tests.browser.conftest import WALL_TOKEN, make_event, screenshot, store_events, wait_until

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
LAYER_KINDS = ("red_light", "wrong_lane", "no_helmet", "no_seatbelt", "wrong_way",
               "abandoned_object", "littering")


def _violations(site) -> None:
    """One red light (An Thới), two no-helmet (An Thới), one littering (Dương Đông)."""
    now = datetime.now(timezone.utc)
    store_events(site.writer, site.conn, [
        make_event(site.conn, "cam-05", "red_light", ts=now - timedelta(minutes=50)),
        make_event(site.conn, "cam-04", "no_helmet", ts=now - timedelta(minutes=40)),
        make_event(site.conn, "cam-05", "no_helmet", ts=now - timedelta(minutes=30)),
        make_event(site.conn, "cam-03", "littering", ts=now - timedelta(minutes=45)),
    ])
    refresh_heatmap(site.conn)


def _island_ward(site) -> None:
    """Thổ Châu: a ward 100 km out at sea, with no camera."""
    island = {"type": "Polygon", "coordinates": [[[103.44, 9.28], [103.48, 9.28],
                                                  [103.48, 9.32], [103.44, 9.32],
                                                  [103.44, 9.28]]]}
    with site.conn.transaction():
        site.conn.execute("INSERT INTO wards (id, name, province, geometry, approximate) "
                          "VALUES ('w-tho-chau', 'Thổ Châu', 'Kiên Giang', %s, true)",
                          (json.dumps(island),))


def _dots(page, kind: str) -> int:
    return page.locator(f"path.vigil-violation.vk-{kind}").count()


def test_commander_draws_each_violation_kind_as_a_layer(open_page, site):
    _violations(site)
    page = open_page("/", user="chi.huy")
    page.wait_for_selector(READY, timeout=15_000)
    # one checkbox per kind (Vietnamese labels from the page config) and one for incidents
    rows = page.locator(".vigil-layers input[data-layer]")
    assert rows.count() == len(LAYER_KINDS) + 1
    text = page.inner_text(".vigil-layers")
    for kind in LAYER_KINDS:
        assert EVENT_KINDS[kind].label_vi in text
    wait_until(page, "document.body.dataset.violations === '5'")   # + the seeded object
    assert (_dots(page, "red_light"), _dots(page, "no_helmet"), _dots(page, "littering"),
            _dots(page, "abandoned_object")) == (1, 2, 1, 1)
    assert page.inner_text("[data-count='no_helmet']") == "2"
    # a violation is a dot of its layer, not an alert pin as well; a click selects it
    assert page.locator(".vigil-pin[data-kind='no_helmet']").count() == 0
    page.locator("path.vk-red_light").dispatch_event("click")   # under a pin at cam-05
    page.wait_for_selector("#alert-list .alert-item[aria-selected='true']")
    assert page.inner_text("#detail-name") == "Cảng bãi xe"
    # a layer toggles off and on
    page.uncheck("input[data-layer='no_helmet']")
    assert _dots(page, "no_helmet") == 0 and _dots(page, "red_light") == 1
    assert page.evaluate("document.body.dataset.violations") == "3"
    page.check("input[data-layer='no_helmet']")
    assert _dots(page, "no_helmet") == 2
    # a live violation joins its layer
    site.event("cam-04", "wrong_way")
    wait_until(page, "document.querySelectorAll('path.vk-wrong_way').length === 1")
    screenshot(page, "commander-violation-layers")
    # the filters apply: one ward (with the incident heatmap switched off meanwhile)
    page.uncheck("#t-heat")
    page.select_option("#f-ward", "w-duong-dong")
    wait_until(page, "document.querySelectorAll('path.vk-no_helmet').length === 0")
    assert _dots(page, "littering") == 1 and _dots(page, "red_light") == 0
    page.wait_for_timeout(300)
    assert page.locator("#vigil-notice[data-level='error']:not([hidden])").count() == 0
    page.check("#t-heat")
    assert page.locator("canvas.vigil-heat-incidents").count() == 1
    site.check_clean()


def test_planner_violation_layers_and_counts_per_ward(open_page, site):
    _violations(site)
    _island_ward(site)
    page = open_page("/planner", user="ke.hoach", locale="vi-VN")
    page.wait_for_selector(READY, timeout=20_000)
    wait_until(page, "document.body.dataset.violations === '5'")
    assert page.locator(".vigil-layers input[data-layer]").count() == len(LAYER_KINDS)
    view = [float(v) for v in page.evaluate("document.body.dataset.view").split(",")]
    assert view[0] < 103.962 and view[2] > 104.0 and view[1] > 10.1   # the cameras only
    table = page.locator("#violation-table")
    assert table.locator("thead th[data-kind]").count() == len(LAYER_KINDS)
    an_thoi = table.locator("tr[data-ward-id='w-an-thoi']")
    assert an_thoi.locator("td[data-kind='no_helmet']").inner_text() == "2"
    assert an_thoi.locator("td[data-kind='red_light']").inner_text() == "1"
    assert an_thoi.locator("td[data-kind='abandoned_object']").inner_text() == "1"
    assert an_thoi.locator("td.total").inner_text() == "4"
    duong_dong = table.locator("tr[data-ward-id='w-duong-dong']")
    assert duong_dong.locator("td[data-kind='littering']").inner_text() == "1"
    assert "Dương Đông" in duong_dong.inner_text()
    page.uncheck("input[data-layer='red_light']")
    assert _dots(page, "red_light") == 0
    screenshot(page, "planner-violations")
    site.check_clean()


def test_incident_is_one_pin_with_a_count_and_takes_a_verdict(open_page, site):
    now = datetime.now(timezone.utc)
    members = store_events(site.writer, site.conn, [
        make_event(site.conn, cam, "intrusion", ts=now - timedelta(seconds=s))
        for cam, s in (("cam-01", 90), ("cam-02", 60), ("cam-01", 30))])
    page = open_page("/", user="truc.ban")
    page.wait_for_selector(READY, timeout=15_000)
    wait_until(page, "document.body.dataset.incidents === '1'")
    pin = page.locator(".vigil-incident[data-n='3']")
    assert pin.count() == 1
    assert pin.locator(".vigil-incident-count").inner_text() == "3"
    # the members are in the alert list but drawn as the incident's pin, not one each
    for event_id in members:
        assert page.locator(f"#alert-list .alert-item[data-event-id='{event_id}']").count() == 1
        assert page.locator(f".vigil-pin[data-event-id='{event_id}']").count() == 0
    # the seeded alerts not merged, but for the abandoned object: on its layer
    assert page.locator(".vigil-pin").count() == 2
    pin.click()
    card = page.locator(".leaflet-popup .incident-card")
    card.wait_for()
    assert card.locator(".incident-members li").count() == 3
    assert "Chợ đêm cổng chính" in card.inner_text()
    card.locator(f".incident-members li[data-event-id='{members[1]}']").click()   # a member
    page.wait_for_selector(f"#alert-list .alert-item[data-event-id='{members[1]}']"
                           "[aria-selected='true']")
    page.wait_for_selector("#camera-detail:not([hidden])")
    assert page.inner_text("#detail-name") == "Chợ đêm <b>bến</b>"
    screenshot(page, "commander-incident")
    card.locator("button[data-verdict='false_alarm']").click()
    wait_until(page, "document.querySelector('.vigil-incident').dataset.verdict "
                     "=== 'false_alarm'")
    verdict, by = site.conn.execute("SELECT verdict, verdict_by FROM incidents "
                                    "WHERE n = 3").fetchone()
    assert (verdict, by) == ("false_alarm", "truc.ban")
    assert card.locator(".incident-verdict").get_attribute("data-verdict") == "false_alarm"
    # switching the incident layer off gives the members their own pins back
    page.uncheck("input[data-layer='incidents']")
    assert page.locator(".vigil-incident").count() == 0
    wait_until(page, "document.querySelectorAll('.vigil-pin').length === 5")
    site.check_clean()


def test_planners_may_not_judge_incidents(site):
    """Verdicts need the ``act`` permission (the popup offers no buttons without it)."""
    with site.app.test_client() as client:
        assert client.post("/api/v1/session", json={"username": "ke.hoach",
                                                    "password": "mat-khau-3"}).status_code == 200
        token = client.get("/").text.split('"csrf_token": "')[1].split('"')[0]
        denied = client.post("/api/v1/recognition/incidents/1/verdict",
                             json={"verdict": "true_alarm"}, headers={"X-CSRF-Token": token})
        assert denied.status_code == 403


@pytest.mark.parametrize(("path", "user"), [
    ("/", "chi.huy"), ("/planner", "ke.hoach"), (f"/wall?token={WALL_TOKEN}", None),
    ("/recognition", "truc.ban"), ("/login", None),
])
def test_demo_banner_on_every_page(open_page, site, path, user):
    page = open_page(path, user=user)
    page.wait_for_load_state("load")
    assert page.locator("[data-demo-banner]").count() == 0        # not a demo: no banner
    site.app.config["DEMO"] = True
    page.reload()
    banner = page.locator("[data-demo-banner]")
    banner.wait_for()
    assert "DỮ LIỆU MÔ PHỎNG" in banner.inner_text()
    assert "DEMO — simulated events" in banner.inner_text()
    box = banner.bounding_box()
    assert box["y"] == 0 and box["height"] > 10 and box["width"] > 1000
    header = page.locator(".vigil-header")
    if header.count():                       # the header sits below the banner
        assert header.bounding_box()["y"] >= box["y"] + box["height"] - 1
    if path not in ("/login", "/recognition"):              # server-rendered pages
        page.wait_for_selector(READY, timeout=20_000)
    screenshot(page, "demo-banner-" + (path.strip("/").split("?")[0] or "commander"))
    site.check_clean()


def test_wall_frames_every_camera_and_no_empty_ward(open_page, site):
    """A lone camera far out (a lighthouse 100 km off) is a site with a camera: the wall
    opens framing it with the rest. An island ward 100 km out with no camera neither
    pulls the view out further nor gets a turn in the idle cycle."""
    _island_ward(site)
    with site.conn.transaction():
        site.conn.execute("INSERT INTO cameras (id, name, lon, lat, status) VALUES "
                          "('cam-99', 'Hải đăng', 103.30, 9.40, 'online')")
    site.app.config["WALL"] = {"cycle_s": 1}
    page = open_page(f"/wall?token={WALL_TOKEN}")
    page.wait_for_selector(READY, timeout=15_000)
    west, south, east, north = map(float, page.evaluate(
        "document.body.dataset.fitBounds").split(","))
    assert (west, south) == (103.30, 9.40) and (east, north) == (104.0, 10.23)
    view = [float(v) for v in page.evaluate("document.body.dataset.view").split(",")]
    assert view[0] < 103.30 and view[1] < 9.40 and view[2] > 104.0 and view[3] > 10.23
    targets = json.loads(page.evaluate("document.body.dataset.cycle"))
    assert targets[0]["bounds"] == "103.3,9.4,104,10.23"
    assert "w-tho-chau" not in {t["id"] for t in targets}
    seen = set()
    for _ in range(60):                       # about six turns of the cycle
        seen.add(page.inner_text("#wall-area"))
        page.wait_for_timeout(100)
    assert "Thổ Châu" not in seen
    assert seen & {"Dương Đông", "An Thới", "Chợ đêm <Dinh Cậu>", "Cảng An Thới"}
    screenshot(page, "wall-every-camera")
    site.check_clean()
