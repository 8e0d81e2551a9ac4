"""The first view of the commander page and the wall, and the wall's fly-through, on the
demo provinces' shipped wards, zones and cameras, in a real Chromium.

Each camera's place on screen is worked out from the map's shown bounds
(``body[data-view]``, Leaflet's ``map.getBounds()``) and the map's box, through the Web
Mercator projection Leaflet draws in; the fly-through is read from the list the wall
leaves on ``body[data-cycle]``, so no test waits for its turns.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

import pytest

from gis.boundaries import load_shipped
from store.registry import Camera, replace_wards, replace_zones, upsert_cameras
from store.settings import Settings
from tests.browser.conftest import USERS, WALL_TOKEN, Site, screenshot, served_site
from webapp.demo.orchestration import camera_seeds

pytestmark = pytest.mark.browser

READY = "body[data-ready='true']"
SIZES = [(1600, 900), (1280, 800)]
#: A commander whose scope is one Phú Quốc ward (the port, Sun Group and Bãi Sao).
SCOPED = "chi.huy.an.thoi"
SCOPED_WARD = "pq-an-thoi"
#: The sites the old "main area" rule left out of the first view.
OUTLYING_SITES = ("an_thoi_port", "corona_casino", "sun_group")
#: Half a camera marker (radius 5 px and its outline): a marker closer to the map's edge
#: than this is cut.
MARKER_PX = 6.0


@pytest.fixture
def province() -> str:
    """The demo province the site is seeded with (parametrise to change it)."""
    return "phu-quoc"


@pytest.fixture
def site(settings: Settings, db_url: str, province: str,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The app on a loopback port over the demo province's wards, zones and cameras (all
    online), as ``vigil demo`` loads them; adds a commander scoped to one ward."""
    monkeypatch.setitem(USERS, SCOPED, {"password": "mat-khau-4", "role": "commander",
                                        "wards": [SCOPED_WARD]})
    wards, zones = load_shipped(province)
    seeds = camera_seeds(province, wards, zones)
    def seed(conn, writer) -> None:  # noqa: ANN001 - served_site's seed
        replace_wards(conn, wards, province)
        replace_zones(conn, zones, province)
        upsert_cameras(conn, [Camera(**{**s.as_record(), "status": "online"}) for s in seeds])

    with served_site(settings, db_url, seed) as running:
        yield running


def _cameras(site: Site, ward: str | None = None) -> list[tuple[str, float, float]]:
    """(id, lon, lat) of every camera with a position, or of one ward's."""
    return site.conn.execute(
        "SELECT id, lon, lat FROM cameras WHERE lon IS NOT NULL AND lat IS NOT NULL "
        "AND (%s::text IS NULL OR ward_id = %s) ORDER BY id", (ward, ward)).fetchall()


def _bbox(text: str) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in text.split(","))
    return west, south, east, north


def _mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _on_screen(page: Any, cameras: list[tuple[str, float, float]]
               ) -> dict[str, tuple[float, float]]:
    """Each camera's (x, y) in the page's viewport, from the map's shown bounds."""
    west, south, east, north = _bbox(page.evaluate("document.body.dataset.view"))
    box = page.locator("#map").bounding_box()
    top, bottom = _mercator_y(north), _mercator_y(south)
    return {cid: (box["x"] + (lon - west) / (east - west) * box["width"],
                  box["y"] + (top - _mercator_y(lat)) / (top - bottom) * box["height"])
            for cid, lon, lat in cameras}


def _cut_off(page: Any, cameras: list[tuple[str, float, float]],
             covers: tuple[str, ...] = ()) -> list[str]:
    """The cameras whose markers are not wholly on the map or lie under a box laid over
    it: the map's controls (zoom buttons, legend, layer list, attribution) and the
    elements ``covers`` selects."""
    box = page.locator("#map").bounding_box()
    boxes = [node.bounding_box() for sel in (".leaflet-control", *covers)
             for node in page.locator(sel).all()]
    out = []
    for cid, (x, y) in _on_screen(page, cameras).items():
        inside = (box["x"] + MARKER_PX <= x <= box["x"] + box["width"] - MARKER_PX
                  and box["y"] + MARKER_PX <= y <= box["y"] + box["height"] - MARKER_PX)
        under = any(b["x"] <= x <= b["x"] + b["width"] and b["y"] <= y <= b["y"] + b["height"]
                    for b in boxes if b)
        if not inside or under:
            out.append(cid)
    return out


def _open(open_page: Any, path: str, user: str | None, size: tuple[int, int]) -> Any:
    page = open_page(path, user=user, size=size)
    page.wait_for_selector(READY, timeout=30_000)
    return page


def _diagonal_km(bbox: tuple[float, float, float, float]) -> float:
    west, south, east, north = bbox
    kx = 111.32 * math.cos(math.radians((south + north) / 2))
    return math.hypot((east - west) * kx, (north - south) * 110.57)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_first_view_frames_every_phu_quoc_camera(open_page, site, size):
    """All 41 cameras, the port of An Thới, Corona casino and Sun Group included, are on
    the commander's map and the wall's as they open, none under the map's controls or
    the wall's title."""
    cameras = _cameras(site)
    assert len(cameras) == 41
    for path, user, covers in (("/", "chi.huy", ()),
                               (f"/wall?token={WALL_TOKEN}", None, (".wall-title",))):
        page = _open(open_page, path, user, size)
        assert page.evaluate("document.body.dataset.cameras") == "41"
        assert _cut_off(page, cameras, covers) == [], path
        # framed on the cameras: Thổ Châu (no camera, 100 km out) is not in view
        west, south, east, north = _bbox(page.evaluate("document.body.dataset.view"))
        assert south > 9.6 and west > 103.6, (path, south, west)
        name = "wall" if user is None else "commander"
        screenshot(page, f"first-view-{name}-phu-quoc-{size[0]}x{size[1]}")
    site.check_clean()


def test_wall_fly_through_visits_every_site_with_cameras(open_page, site):
    """The fly-through opens on every camera, then has a ward or zone view holding each
    of the sites the old rule left out, framed on the site (a few km), and no turn for a
    ward without cameras."""
    page = _open(open_page, f"/wall?token={WALL_TOKEN}", None, SIZES[0])
    targets = json.loads(page.evaluate("document.body.dataset.cycle"))
    cameras = _cameras(site)
    first = targets[0]
    assert first["id"] is None
    assert _bbox(first["bounds"]) == (min(c[1] for c in cameras), min(c[2] for c in cameras),
                                      max(c[1] for c in cameras), max(c[2] for c in cameras))

    def holds(target: dict, group: list[tuple[str, float, float]]) -> bool:
        west, south, east, north = _bbox(target["bounds"])
        return all(west <= lon <= east and south <= lat <= north for _, lon, lat in group)

    for key in OUTLYING_SITES:
        group = [c for c in cameras if c[0].startswith(f"pq-{key}-")]
        assert len(group) == 4, key
        views = [t for t in targets[1:] if holds(t, group)]
        assert views, f"no turn of the fly-through shows {key}"
        assert min(_diagonal_km(_bbox(t["bounds"])) for t in views) < 5, (key, views)
    ids = {t["id"] for t in targets}
    assert {"pq-port-an-thoi", "pq-corona-casino", "pq-sun-group"} <= ids
    assert "pq-tho-chau" not in ids                     # a ward with no camera
    # every camera is in some turn besides the first
    assert all(any(holds(t, [c]) for t in targets[1:]) for c in cameras)
    site.check_clean()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_scoped_commander_first_view_frames_only_their_cameras(open_page, site, size):
    """A commander of one ward opens on that ward's cameras, not on the island's."""
    mine = _cameras(site, SCOPED_WARD)
    others = [c for c in _cameras(site) if c not in mine]
    assert len(mine) == 9 and others
    page = _open(open_page, "/", SCOPED, size)
    assert page.evaluate("document.body.dataset.cameras") == str(len(mine))
    assert _bbox(page.evaluate("document.body.dataset.fitBounds")) == (
        min(c[1] for c in mine), min(c[2] for c in mine),
        max(c[1] for c in mine), max(c[2] for c in mine))
    assert _cut_off(page, mine) == []
    # no camera out of scope on the map (the nearest, at Bãi Vòng, is 14 km north)
    box = page.locator("#map").bounding_box()
    assert not [cid for cid, (x, y) in _on_screen(page, others).items()
                if box["x"] <= x <= box["x"] + box["width"]
                and box["y"] <= y <= box["y"] + box["height"]]
    screenshot(page, f"first-view-scoped-commander-{size[0]}x{size[1]}")
    site.check_clean()


@pytest.mark.parametrize("province", ["thanh-hoa"])
def test_thanh_hoa_first_view_frames_its_2320_cameras(open_page, site):
    """Thanh Hóa's 2,320 cameras over the central wards: all in view on both pages, at a
    city zoom (the view a few km across, not the province)."""
    cameras = _cameras(site)
    assert len(cameras) == 2320
    for path, user, covers in (("/", "chi.huy", ()),
                               (f"/wall?token={WALL_TOKEN}", None, (".wall-title",))):
        page = _open(open_page, path, user, SIZES[0])
        assert page.evaluate("document.body.dataset.cameras") == "2320"
        assert _cut_off(page, cameras, covers) == [], path
        assert _diagonal_km(_bbox(page.evaluate("document.body.dataset.view"))) < 25, path
        name = "wall" if user is None else "commander"
        screenshot(page, f"first-view-{name}-thanh-hoa")
    site.check_clean()
