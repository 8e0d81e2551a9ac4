"""Watchlist enrolment in a real Chromium: an admin signs in, uploads a photo through the
recognition page's form (CSRF token, multipart, strict CSP) and sees the person listed
with the enrolled photo; a group photo is refused with a message naming the file."""

from __future__ import annotations

import pytest

from store import watchlist as wl
from store.users import add_user
from tests.browser.conftest import screenshot, sign_in_form, site  # noqa: F401  (fixture)
from webapp.auth.passwords import hash_password

pytestmark = pytest.mark.browser

PASSWORD = "Quan-tri-vien-2026!"


def test_admin_enrols_a_person_in_the_browser(browser, site, face_samples):  # noqa: F811
    add_user(site.conn, "quan.tri", "admin", None, hash_password(PASSWORD))
    context = browser.new_context(locale="vi-VN")
    try:
        page, errors = sign_in_form(context, site.url, "quan.tri", PASSWORD)
        page.goto(f"{site.url}/recognition?lang=vi")
        form = page.locator("#enrol-form")
        form.locator("input[name=name]").fill("Diêu Minh")
        form.locator("input[name=reason]").fill("QĐ 12/2026")
        form.locator("input[name=photos]").set_input_files(str(face_samples / "players.jpg"))
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#enrol-error", timeout=60_000)
        assert "players.jpg: có" in page.inner_text("#enrol-error")
        assert wl.list_persons(site.conn, "test") == []
        form = page.locator("#enrol-form")
        assert form.locator("input[name=name]").input_value() == "Diêu Minh"  # kept
        form.locator("input[name=photos]").set_input_files(str(face_samples / "yaoming.jpg"))
        form.locator("button[type=submit]").click()
        page.wait_for_selector("#enrolled", timeout=60_000)
        row = page.locator("#watchlist tr[data-person]")
        assert row.count() == 1 and "Diêu Minh" in row.inner_text()
        photo = row.locator("img.recognition-photo")
        assert photo.count() == 1
        assert page.request.get(site.url + photo.get_attribute("src")).ok
        screenshot(page, "recognition-enrolled")
        assert [e for e in errors if "422" not in e] == []   # the refusal's status only
    finally:
        context.close()
