"""Violations at one junction (a camera's stop line) are one dot per kind with their count,
whose list, newest first, picks one — in a real Chromium against the real app."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from store.model import EVENT_KINDS
from tests.browser.conftest import make_event, screenshot, store_events, wait_until

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
RED = EVENT_KINDS["red_light"].label_vi


def _junction(site) -> list[int]:
    """Five red lights a metre or so apart at cam-03's stop line (oldest first, six
    minutes apart: no incident merges them), and one at cam-02, 1.5 km away; the ids of
    the five."""
    now = datetime.now(timezone.utc)
    ids = store_events(site.writer, site.conn, [
        make_event(site.conn, "cam-03", "red_light", ts=now - timedelta(minutes=31 - 6 * i),
                   offset=(0.0003 + i * 0.00001, 0.0002 - i * 0.000005))
        for i in range(5)])
    store_events(site.writer, site.conn, [
        make_event(site.conn, "cam-02", "red_light", ts=now - timedelta(minutes=40))])
    return ids


def _dots(page) -> int:
    return page.locator("path.vigil-violation.vk-red_light").count()


def _count_label(page) -> str:
    return page.evaluate("document.querySelector(\".vigil-violation-count[data-kind="
                         "'red_light']\")?.textContent ?? ''")


def test_violations_at_one_junction_are_one_dot_with_a_list(open_page, site):
    ids = _junction(site)
    page = open_page("/", user="chi.huy")
    page.wait_for_selector(READY, timeout=15_000)
    wait_until(page, "document.body.dataset.violations === '7'")   # + the seeded object
    # two dots in the red-light layer: the junction's shows 5, the other is a plain dot
    assert _dots(page) == 2
    group = page.locator("path.vk-red_light[data-n='5']")
    assert group.count() == 1
    assert page.locator(".vigil-violation-count[data-kind='red_light']").count() == 1
    assert _count_label(page) == "5"
    assert page.locator("path.vk-red_light[data-n='1']").count() == 1
    # the group's dot is larger than a single one (log scale)
    big = group.bounding_box()
    small = page.locator("path.vk-red_light[data-n='1']").bounding_box()
    assert big["width"] > small["width"] + 4
    # the layer control counts events, not dots
    assert page.inner_text("[data-count='red_light']") == "6"
    group.hover()
    tip = page.locator(".leaflet-tooltip.vigil-tip")
    tip.wait_for()
    assert tip.inner_text() == f"5 · {RED} · Quảng trường"
    screenshot(page, "commander-violation-group")
    # a click lists the five, newest first, under the kind's Vietnamese name
    group.click()
    items = page.locator(".leaflet-popup .vigil-stack-list li")
    items.first.wait_for()
    assert [items.nth(i).get_attribute("data-event-id") for i in range(items.count())] == [
        str(i) for i in reversed(ids)]
    text = page.inner_text(".leaflet-popup .vigil-stack-list")
    assert f"{RED} · 5" in text and text.count("Quảng trường") == 5
    screenshot(page, "commander-violation-group-list")
    # picking one selects it (the list closes)
    items.nth(2).click()
    page.wait_for_selector(f"#alert-list .alert-item[data-event-id='{ids[2]}']"
                           "[aria-selected='true']")
    assert page.inner_text("#detail-name") == "Quảng trường"
    assert page.locator(".leaflet-popup .vigil-stack-list").count() == 0
    # a live red light at the junction joins the group instead of adding a dot
    site.event("cam-03", "red_light")
    wait_until(page, "document.querySelector(\"path.vk-red_light[data-n='6']\") !== null")
    assert _dots(page) == 2 and _count_label(page) == "6"
    assert page.inner_text("[data-count='red_light']") == "7"
    # the layer still toggles, group and count label with it
    page.uncheck("input[data-layer='red_light']")
    assert _dots(page) == 0
    assert page.locator(".vigil-violation-count[data-kind='red_light']").count() == 0
    assert page.evaluate("document.body.dataset.violations") == "1"
    page.check("input[data-layer='red_light']")
    assert _dots(page) == 2 and _count_label(page) == "6"
    assert page.locator("path.vk-red_light[data-n='6']").count() == 1
    site.check_clean()


def test_planner_lists_a_group_read_only(open_page, site):
    """The planner selects no alert: a group's list is there to read."""
    _junction(site)
    page = open_page("/planner", user="ke.hoach", locale="vi-VN")
    page.wait_for_selector(READY, timeout=20_000)
    wait_until(page, "document.body.dataset.violations === '7'")
    assert _dots(page) == 2 and _count_label(page) == "5"
    page.locator("path.vk-red_light[data-n='5']").click()
    items = page.locator(".leaflet-popup .vigil-stack-list li")
    items.first.wait_for()
    assert items.count() == 5
    assert page.locator(".vigil-stack-list li.clickable").count() == 0
    site.check_clean()
