"""XSS payloads in camera names, alert notes and assignees, rendered inert in a real
Chromium (the tests/browser fixtures: real app, database, sockets, strict CSP): no
element is injected, no script runs, the text shows as typed, no CSP violation."""

from __future__ import annotations

import pytest

from store.alerts import apply_action
from store.users import add_user
from tests.browser.conftest import (open_page, screenshot, sign_in_form,  # noqa: F401
                                    site, wait_until)
from webapp.auth.passwords import hash_password

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
NAME_1 = '<img src=x onerror="window.__xss=1">Cổng'
NAME_4 = "</span><script>window.__xss=2</script>\"'><svg onload=window.__xss=3>"
ASSIGNEE = "<b onmouseover=window.__xss=4>Tổ 3</b>"
NOTE = "<iframe src=javascript:window.__xss=5></iframe>"
ADMIN_PASSWORD = "Quan-tri-vien-2026!"
INJECTED = ("document.querySelectorAll('img[src=\"x\"], script:not([src]):not(#vigil-config), svg[onload], "
            "b[onmouseover], iframe').length")


def _plant(site) -> None:  # noqa: ANN001
    site.conn.execute("UPDATE cameras SET name = %s WHERE id = 'cam-01'", (NAME_1,))
    site.conn.execute("UPDATE cameras SET name = %s WHERE id = 'cam-04'", (NAME_4,))
    ids = dict(site.conn.execute("SELECT camera_id, id FROM events WHERE kind <> "
                                 "'crowd_sample'").fetchall())
    apply_action(site.conn, ids["cam-01"], "assign", "truc.ban", assignee=ASSIGNEE, note=NOTE)


def _inert(page) -> None:  # noqa: ANN001
    assert page.evaluate("window.__xss") is None
    assert page.evaluate(INJECTED) == 0
    # the page's JSON config holds the payloads as JSON strings, not markup
    assert page.evaluate("document.querySelectorAll('#vigil-config *').length") == 0


def test_commander_and_wall_render_payloads_as_text(open_page, site):
    _plant(site)
    page = open_page("/", user="chi.huy")
    page.wait_for_selector(READY, timeout=15_000)
    wait_until(page, "document.querySelectorAll('#alert-list .alert-item').length == 3")
    listing = page.inner_text("#alert-list")
    assert NAME_1 in listing and "Tổ 3" in listing and "<b onmouseover" in listing
    page.click("#alert-list .alert-item[data-event-id='2']")            # cam-04's alert
    page.wait_for_selector("#camera-detail:not([hidden]) #detail-timeline li time")
    assert page.inner_text("#detail-name") == NAME_4
    page.hover(".alert-item[data-event-id='1'] .alert-assignee")
    _inert(page)
    screenshot(page, "xss-commander")
    wall = open_page("/wall?token=wall-test-token")
    wall.wait_for_selector(READY, timeout=15_000)
    wait_until(wall, "document.querySelectorAll('#ticker li').length == 3")
    assert NAME_4 in wall.inner_text("#ticker") or NAME_1 in wall.inner_text("#ticker")
    _inert(wall)
    site.check_clean()


def test_admin_page_renders_payloads_as_text(browser, site):
    _plant(site)
    add_user(site.conn, "quan.tri", "admin", None, hash_password(ADMIN_PASSWORD))
    context = browser.new_context()
    try:
        page, errors = sign_in_form(context, site.url, "quan.tri", ADMIN_PASSWORD)
        csrf = page.request.get(f"{site.url}/api/v1/session").json()["csrf_token"]
        changed = page.request.patch(f"{site.url}/api/v1/admin/cameras/cam-02",
                                     data={"name": NAME_4}, headers={"X-CSRF-Token": csrf})
        assert changed.ok, changed.text()
        page.goto(f"{site.url}/admin")
        page.wait_for_selector("table.admin-audit")
        assert "camera.change" in page.inner_text("table.admin-audit")
        assert "window.__xss=2" in page.inner_text("table.admin-audit")
        _inert(page)
        assert page.evaluate("getComputedStyle(document.body).fontFamily")  # styles load
        screenshot(page, "xss-admin")
        assert errors == []
    finally:
        context.close()
