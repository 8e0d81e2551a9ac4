"""The commander page's export buttons in a real Chromium: the file arrives with the
page's filters (UTF-8 with BOM, audited); above the row cap the page says why."""

from __future__ import annotations

import pytest

from store.audit import recent
from tests.browser.conftest import open_page, site, wait_until  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"


def test_commander_exports_the_filtered_events(open_page, site):  # noqa: F811
    page = open_page("/", user="chi.huy")
    page.wait_for_selector(READY, timeout=15_000)
    with page.expect_download(timeout=30_000) as download:
        page.click("#export-csv")
    path = download.value.path()
    assert download.value.suggested_filename.startswith("events-")
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeffevent_id,ts,kind")
    assert len(text.strip().splitlines()) >= 2                     # the seeded events
    (row,) = [r for r in recent(site.conn) if r["action"] == "events.export"]
    assert row["actor"] == "chi.huy" and row["detail"]["rows"] == len(
        text.strip().splitlines()) - 1
    site.app.config["EXPORT_MAX_ROWS"] = 1
    page.click("#export-json")
    wait_until(page, "!document.getElementById('vigil-notice').hidden", timeout_s=15)
    notice = page.inner_text("#vigil-notice")                   # the page's language
    assert "Có hơn 1 sự kiện" in notice and "tối đa 1" in notice, notice
    site.console_errors[:] = [e for e in site.console_errors if "400" not in e]
    site.check_clean()
