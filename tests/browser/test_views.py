"""The pages blueprint through Flask's test client: access per role, page config, the
planner's coverage and report routes (no browser needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from store.db import connect
from tests.browser.conftest import USERS as PAGE_USERS
from tests.browser.conftest import WALL_TOKEN, seed_areas_and_cameras

#: The browser tests' users and an admin.
USERS = {**PAGE_USERS, "quan.tri": {"password": "mat-khau-admin-4", "role": "admin"}}


@pytest.fixture
def app(settings, db_url):
    from webapp import create_app
    from webapp.db import close_pool
    with connect(db_url) as conn:
        conn.autocommit = True
        seed_areas_and_cameras(conn)
    app = create_app({"SETTINGS": settings, "DATABASE_URL": db_url, "TESTING": True,
                      "USERS": USERS, "WALL_TOKENS": {WALL_TOKEN: {"name": "wall"}},
                      "LOGIN_FILE": None, "REALTIME": False})
    yield app
    close_pool(app)


def _client(app, user=None):
    client = app.test_client()
    if user == "wall":
        assert client.get(f"/wall?token={WALL_TOKEN}").status_code == 302
    elif user is not None:
        answer = client.post("/api/v1/session", json={"username": user,
                                                      "password": USERS[user]["password"]})
        assert answer.status_code == 200, answer.json
    return client


def _page_config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="vigil-config">(.*?)</script>',
                      html, re.S)
    assert found, "no page config"
    return json.loads(found.group(1))


@pytest.mark.parametrize(("user", "path", "status"), [
    (None, "/", 302), (None, "/wall", 302), (None, "/planner", 302),
    ("wall", "/wall", 200), ("wall", "/", 302), ("wall", "/planner", 403),
    ("truc.ban", "/", 200), ("truc.ban", "/wall", 200), ("truc.ban", "/planner", 403),
    ("chi.huy", "/planner", 200), ("ke.hoach", "/planner", 200), ("ke.hoach", "/", 200),
    ("wall", "/planner/coverage.json", 403), ("ke.hoach", "/planner/coverage.json", 200),
])
def test_pages_are_guarded_by_role(app, user, path, status):
    answer = _client(app, user).get(path)
    assert answer.status_code == status
    if user is None:
        assert "/login" in answer.headers["Location"]
    if user == "wall" and path == "/":
        assert answer.headers["Location"].endswith("/wall")


@pytest.mark.parametrize(("user", "links"), [
    ("quan.tri", ["/", "/wall", "/planner", "/recognition", "/admin"]),
    ("chi.huy", ["/", "/wall", "/planner", "/recognition"]),
    ("truc.ban", ["/", "/wall", "/recognition"]),
    ("ke.hoach", ["/", "/wall", "/planner"]),
])
def test_header_links_follow_the_role(app, user, links):
    client = _client(app, user)
    html = client.get("/").get_data(as_text=True)
    nav = re.search(r'<nav class="vigil-nav".*?</nav>', html, re.S).group(0)
    assert re.findall(r'href="([^"]+)"', nav) == links
    if "/recognition" in links:
        assert ">Nhận dạng</a>" in nav
        english = client.get("/recognition?lang=en").get_data(as_text=True)
        assert re.search(r'<a href="/recognition" data-nav="recognition" '
                         r'aria-current="page">Recognition</a>', english)
    else:
        assert client.get("/recognition").status_code == 403
    if "/admin" in links:                           # the admin page has the same menu
        admin = client.get("/admin?lang=vi").get_data(as_text=True)
        nav = re.search(r'<nav class="vigil-nav".*?</nav>', admin, re.S).group(0)
        assert re.findall(r'href="([^"]+)"', nav) == links
        assert re.search(r'<a href="/admin" data-nav="admin" aria-current="page">Quản trị</a>',
                         nav)
    else:
        assert client.get("/admin").status_code == 403


def test_page_config_carries_catalogue_kinds_and_user(app):
    client = _client(app, "chi.huy")
    config = _page_config(client.get("/").get_data(as_text=True))
    assert config["locale"] == "vi" and config["timezone"] == "Asia/Ho_Chi_Minh"
    assert config["strings"]["Acknowledge"] == "Tiếp nhận"
    assert config["kinds"]["fight"] == {"label": "Ẩu đả", "is_alert": True, "severity": 3}
    assert config["user"]["name"] == "chi.huy" and "act" in config["user"]["permissions"]
    assert config["csrf_token"]
    english = _page_config(client.get("/?lang=en").get_data(as_text=True))
    assert english["locale"] == "en" and english["kinds"]["fight"]["label"] == "Fight"


def test_pages_have_no_inline_script_or_handler(app):
    client = _client(app, "chi.huy")
    for path in ("/", "/wall", "/planner"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert " style=" not in html, path


def test_coverage_has_camera_views_and_zone_blind_spots(app):
    doc = _client(app, "ke.hoach").get("/planner/coverage.json").json
    layers = [f["properties"]["layer"] for f in doc["features"]]
    assert layers.count("coverage") == 1
    spots = {f["properties"]["zone_id"]: f["properties"] for f in doc["features"]
             if f["properties"]["layer"] == "blind_spot"}
    assert set(spots) == {"z-cho-dem", "z-cang"}
    assert all(0 < s["percent_covered"] < 100 for s in spots.values())
    narrowed = _client(app, "ke.hoach").get("/planner/coverage.json?ward=w-an-thoi").json
    assert {f["properties"].get("zone_id") for f in narrowed["features"]} <= {None, "z-cang"}


@pytest.mark.parametrize("query", ["from=yesterday", "from=2026-05-02&to=2026-05-01",
                                   "from=2020-01-01&to=2026-01-01"])
def test_hotspot_report_refuses_bad_periods(app, query):
    answer = _client(app, "ke.hoach").get(f"/planner/hotspots.html?{query}")
    assert answer.status_code == 400
    assert answer.json["error"]["message"]


WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
STATIC_JS = Path(__file__).resolve().parents[2] / "static" / "vigil" / "js"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_page_string_is_in_the_catalogue(lang):
    """Each t("...") of the scripts and _('...') of the page templates is translated."""
    from babel.messages.pofile import read_po
    with (WEBAPP / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        translated = {m.id for m in read_po(po) if m.id and m.string}
    keys = set()
    for script in STATIC_JS.glob("*.js"):
        keys |= set(re.findall(r'\bt\(\s*"((?:[^"\\]|\\.)*)"', script.read_text()))
    for template in (WEBAPP / "templates").glob("*.html"):
        keys |= set(re.findall(r"\b_\(\s*'((?:[^'\\]|\\.)*)'", template.read_text()))
    assert len(keys) > 100
    assert sorted(keys - translated) == []
