"""What a person sees in a real Chromium when the server refuses a request: a 100 MB
photo sent through the watchlist enrolment form gets a page in their language saying
what the limit is (Vietnamese first, English with ``lang=en``), not the server's raw
English "Request Entity Too Large"."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.users import add_user
from tests.browser.conftest import screenshot, sign_in_form, site  # noqa: F401  (fixture)
from webapp.auth.passwords import hash_password

pytestmark = pytest.mark.browser

PASSWORD = "Quan-tri-vien-2026!"


@pytest.mark.parametrize("lang, title, limit", [
    ("vi", "Dữ liệu gửi lên quá lớn", "lớn hơn 80 MB"),
    ("en", "Upload too large", "larger than 80 MB"),
])
def test_a_100_mb_upload_gets_a_page_in_the_users_language(
        browser, site, tmp_path: Path, lang: str, title: str, limit: str) -> None:  # noqa: F811
    photo = tmp_path / "anh-lon.jpg"
    with photo.open("wb") as out:                    # 100 MB, sparse: quick to make
        out.write(b"\xff\xd8\xff")
        out.truncate(100 * 1024 * 1024)
    add_user(site.conn, "quan.tri", "admin", None, hash_password(PASSWORD))
    context = browser.new_context(locale="vi-VN")
    try:
        page, errors = sign_in_form(context, site.url, "quan.tri", PASSWORD)
        page.goto(f"{site.url}/recognition?lang={lang}")
        form = page.locator("#enrol-form")
        form.locator("input[name=name]").fill("Diêu Minh")
        form.locator("input[name=photos]").set_input_files(str(photo))
        with page.expect_navigation(timeout=120_000) as navigation:
            form.locator("button[type=submit]").click()
        assert navigation.value.status == 413
        assert page.locator("h1").inner_text() == title
        assert limit in page.locator("[role=alert]").inner_text()
        assert page.locator("html").get_attribute("lang") == lang
        assert "Request Entity Too Large" not in page.content()
        screenshot(page, f"upload-too-large-{lang}")
        page.locator("a.button").click()              # back to where the form was
        page.wait_for_selector("#enrol-form")
        assert [e for e in errors if "413" not in e] == []   # the refusal's status only
    finally:
        context.close()
