"""The three pages in a real Chromium against the real app, database and sockets."""

from __future__ import annotations

from tests.browser.conftest import CAMERAS, screenshot


def test_wall_draws_every_camera_from_the_database(open_page, site):
    page = open_page(f"/wall?token=wall-test-token")
    page.wait_for_selector("body[data-ready='true']", timeout=15_000)
    assert page.evaluate("document.body.dataset.cameras") == str(len(CAMERAS))
    screenshot(page, "wall")
    site.check_clean()
