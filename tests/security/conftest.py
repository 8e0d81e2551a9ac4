"""Security tests reuse the map application's fixtures (``make_app``, ``db_app``,
``live_server``, ``login``) and, for the browser, those of tests/browser."""

from tests.webapp.conftest import app, db_app, live_server, login, make_app  # noqa: F401
