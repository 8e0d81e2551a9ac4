"""Idle sign-out in a real Chromium (tests/browser fixtures: real app, database, sockets,
strict CSP): an open commander page left alone goes to the sign-in page, which says why
in Vietnamese; a user who keeps typing stays signed in."""

from __future__ import annotations

import time

import pytest

from store.settings import Settings
from tests.browser.conftest import open_page, site  # noqa: F401

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
IDLE_S = 15.0
IDLE_MESSAGE = "Phiên đã hết hạn do không hoạt động"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """This module's app signs sessions out after IDLE_S seconds without activity."""
    return settings.model_copy(update={"session_idle_minutes": IDLE_S / 60})


def _forgive_expected_errors(site) -> None:  # noqa: ANN001
    """The polls refused after the limit (401) are logged by the browser, as is the
    socket the server closed; nothing else may be."""
    site.console_errors[:] = [e for e in site.console_errors
                              if "status of 401" not in e and "/socket.io/" not in e]


def test_idle_page_goes_to_the_sign_in_page(open_page, site):
    page = open_page("/", user="chi.huy")
    page.wait_for_selector(READY, timeout=20_000)
    assert "/login" not in page.url
    page.wait_for_url("**/login**", timeout=60_000)          # nobody touched it
    page.wait_for_selector("form.login-form", timeout=20_000)
    assert IDLE_MESSAGE in page.inner_text(".login-error")
    assert page.get_attribute("input[name=next]", "value") == "/"
    _forgive_expected_errors(site)
    site.check_clean()


def test_typing_keeps_the_page_signed_in(open_page, site):
    page = open_page("/", user="truc.ban")
    page.wait_for_selector(READY, timeout=20_000)
    started = time.monotonic()
    while time.monotonic() - started < 1.6 * IDLE_S:        # well past the limit
        page.keyboard.press("Shift")
        page.wait_for_timeout(500)
        assert "/login" not in page.url
    page.wait_for_url("**/login**", timeout=60_000)          # then left alone
    assert IDLE_MESSAGE in page.inner_text(".login-error")
    _forgive_expected_errors(site)
    site.check_clean()
