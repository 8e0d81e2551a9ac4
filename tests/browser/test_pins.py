"""Pins at one place (a camera's alerts, its incidents) are one pin with a count that
opens a list, newest first, to pick one — on the commander map and on the wall."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from store.model import EVENT_KINDS
from tests.browser.conftest import WALL_TOKEN, make_event, screenshot, store_events, wait_until

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
#: Three alerts of three kind groups (so no incident merges them) at one camera, oldest first.
KINDS = ("intrusion", "crowd_density", "camera_frozen")


def _three_alerts_at_cam_03(site) -> list[int]:
    now = datetime.now(timezone.utc)
    return store_events(site.writer, site.conn, [
        make_event(site.conn, "cam-03", kind, ts=now - timedelta(minutes=3 - i))
        for i, kind in enumerate(KINDS)])


def _visible_pins(page) -> int:
    return page.locator(".vigil-pin:not(.vigil-stacked-under)").count()


def test_wall_shows_alerts_at_one_camera_as_one_pin_with_a_list(open_page, site):
    ids = _three_alerts_at_cam_03(site)
    page = open_page(f"/wall?token={WALL_TOKEN}")
    page.wait_for_selector(READY, timeout=15_000)
    wait_until(page, "document.querySelectorAll('.vigil-pin').length === 5")
    stack = page.locator(".vigil-pin[data-stack]")
    assert stack.count() == 1
    assert stack.locator(".vigil-stack-count").inner_text() == "3"
    assert stack.get_attribute("data-event-id") == str(ids[-1])    # the newest on top
    assert _visible_pins(page) == 3             # cam-01, cam-04 and the stack at cam-03
    stack.click()
    items = page.locator(".leaflet-popup .vigil-stack-list li")
    items.first.wait_for()
    assert [items.nth(i).get_attribute("data-event-id") for i in range(3)] == [
        str(i) for i in reversed(ids)]                                 # newest first
    text = page.inner_text(".leaflet-popup .vigil-stack-list")
    assert [k for k in reversed(KINDS)] == sorted(
        KINDS, key=lambda k: text.index(EVENT_KINDS[k].label_vi))     # Vietnamese labels
    assert "Cảnh báo · 3" in text
    assert page.locator(".vigil-stack-list li.clickable").count() == 0   # read-only wall
    screenshot(page, "wall-stacked-pins")
    # a live alert at the same camera joins the stack
    site.event("cam-03", "loitering")
    wait_until(page, "document.querySelector('.vigil-pin[data-stack]')"
                     "?.dataset.stack === '4'")
    assert _visible_pins(page) == 3
    site.check_clean()


def test_commander_picks_an_alert_from_a_stack(open_page, site):
    ids = _three_alerts_at_cam_03(site)
    page = open_page("/", user="truc.ban")
    page.wait_for_selector(READY, timeout=15_000)
    stack = page.locator(".vigil-pin[data-stack='3']")
    stack.wait_for()
    stack.click()
    item = page.locator(f".leaflet-popup .vigil-stack-list li[data-event-id='{ids[0]}']")
    item.click()                                             # the oldest, at the bottom
    page.wait_for_selector(f"#alert-list .alert-item[data-event-id='{ids[0]}']"
                           "[aria-selected='true']")
    page.wait_for_selector("#camera-detail:not([hidden])")
    assert page.inner_text("#detail-name") == "Quảng trường"
    assert page.locator(".leaflet-popup .vigil-stack-list").count() == 0  # list closed
    # resolving alerts leaves a single pin: no count, a click selects it directly
    site.conn.execute("DELETE FROM events WHERE id = ANY(%s)", (ids[:2],))
    page.reload()
    page.wait_for_selector(READY, timeout=15_000)
    single = page.locator(f".vigil-pin[data-event-id='{ids[2]}']")
    single.wait_for()
    assert single.get_attribute("data-stack") is None
    assert single.locator(".vigil-stack-count").count() == 0
    single.click()
    page.wait_for_selector(f"#alert-list .alert-item[data-event-id='{ids[2]}']"
                           "[aria-selected='true']")
    assert page.locator(".leaflet-popup .vigil-stack-list").count() == 0
    site.check_clean()


def test_three_incidents_at_one_camera_are_one_pin_with_a_list(open_page, site):
    now = datetime.now(timezone.utc)
    pairs = (("intrusion", "loitering"), ("camera_frozen", "camera_blur"),
             ("crowd_density", "fight"))                            # oldest group first
    store_events(site.writer, site.conn, [
        make_event(site.conn, "cam-03", kind, ts=now - timedelta(seconds=200 - 40 * g - 10 * i))
        for g, pair in enumerate(pairs) for i, kind in enumerate(pair)])
    page = open_page("/", user="truc.ban")
    page.wait_for_selector(READY, timeout=15_000)
    wait_until(page, "document.body.dataset.incidents === '3'", timeout_s=15)
    newest_first = [r[0] for r in site.conn.execute(
        "SELECT id FROM incidents WHERE n = 2 ORDER BY last_ts DESC").fetchall()]
    assert len(newest_first) == 3
    stack = page.locator(".vigil-incident[data-stack]")
    assert stack.count() == 1
    assert stack.locator(".vigil-stack-count").inner_text() == "3"
    assert stack.get_attribute("data-incident-id") == str(newest_first[0])
    assert page.locator(".vigil-incident:not(.vigil-stacked-under)").count() == 1
    stack.click()
    items = page.locator(".leaflet-popup .vigil-stack-list li")
    items.first.wait_for()
    assert [items.nth(i).get_attribute("data-incident-id") for i in range(items.count())
            ] == [str(i) for i in newest_first]
    text = page.inner_text(".leaflet-popup .vigil-stack-list")
    assert "Vụ việc · 3" in text
    for kind in ("intrusion", "camera_blur", "fight"):
        assert EVENT_KINDS[kind].label_vi in text
    screenshot(page, "commander-stacked-incidents")
    # picking one shows its own card (members, verdict) in the same popup
    items.nth(1).click()
    card = page.locator(f".leaflet-popup .incident-card[data-incident-id='{newest_first[1]}']")
    card.wait_for()
    assert card.locator(".incident-members li").count() == 2
    card.locator("button[data-verdict='true_alarm']").click()
    page.wait_for_selector(".leaflet-popup .incident-verdict[data-verdict='true_alarm']")
    verdict = site.conn.execute("SELECT verdict FROM incidents WHERE id = %s",
                                (newest_first[1],)).fetchone()[0]
    assert verdict == "true_alarm"
    site.check_clean()


def test_an_alert_and_an_incident_at_one_camera_stack_together(open_page, site):
    """Alert pins and incident pins share the stacks: a single alert at the camera of an
    incident is not hidden under the incident's pin."""
    now = datetime.now(timezone.utc)
    ids = store_events(site.writer, site.conn, [
        make_event(site.conn, "cam-03", "intrusion", ts=now - timedelta(seconds=90)),
        make_event(site.conn, "cam-03", "loitering", ts=now - timedelta(seconds=60)),
        make_event(site.conn, "cam-03", "camera_frozen", ts=now - timedelta(seconds=30))])
    page = open_page("/", user="truc.ban")
    page.wait_for_selector(READY, timeout=15_000)
    wait_until(page, "document.body.dataset.incidents === '1'", timeout_s=15)
    top = page.locator(f".vigil-pin[data-event-id='{ids[2]}'][data-stack='2']")
    top.wait_for()                                    # the newest item is the alert
    assert page.locator(".vigil-incident.vigil-stacked-under").count() == 1
    top.click()
    items = page.locator(".leaflet-popup .vigil-stack-list li")
    items.first.wait_for()
    assert items.count() == 2
    assert items.nth(0).get_attribute("data-event-id") == str(ids[2])
    incident = items.nth(1).get_attribute("data-incident-id")
    assert incident is not None
    items.nth(1).click()
    page.wait_for_selector(f".leaflet-popup .incident-card[data-incident-id='{incident}']")
    # the incident layer switched off: its pin leaves the stack and its members get
    # pins of their own, in the same stack
    page.uncheck("input[data-layer='incidents']")
    wait_until(page, f"document.querySelector(\".vigil-pin[data-event-id='{ids[2]}']\")"
                     ".dataset.stack === '3'")
    assert page.locator(".vigil-incident").count() == 0
    site.check_clean()
