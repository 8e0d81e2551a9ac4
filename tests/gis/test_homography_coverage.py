"""Homography accuracy on a known camera, FOV and coverage on constructed cameras."""

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import Point, Polygon, box

from gis import grid
from gis.coverage import (camera_fovs, coverage_by_area, coverage_union, fov_from_homography,
                          fov_polygon, fov_polygon_utm)
from gis.homography import DegenerateHomography, Homography

# A synthetic pinhole camera 8 m above the Dương Đông night market, looking north-east.
ORIGIN = (103.9600, 10.2150)
W, H = 1920, 1080


def _camera_matrix() -> np.ndarray:
    """Ground (east, north metres from ORIGIN) → pixel homography of a real pinhole."""
    f = 1200.0
    K = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]])
    yaw = np.radians(45)   # heading clockwise from north
    tilt = np.radians(30)  # below horizontal
    # camera axes in world (east, north, up): forward, right, down
    fwd = np.array([np.sin(yaw) * np.cos(tilt), np.cos(yaw) * np.cos(tilt), -np.sin(tilt)])
    right = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
    down = np.cross(fwd, right)
    R = np.vstack([right, down, fwd])  # world → camera
    C = np.array([0.0, 0.0, 8.0])
    t = -R @ C
    return K @ np.column_stack([R[:, 0], R[:, 1], t])  # z=0 plane


def _ground_of_pixels(px: np.ndarray) -> np.ndarray:
    ground_to_px = _camera_matrix()
    h = np.column_stack([px, np.ones(len(px))]) @ np.linalg.inv(ground_to_px).T
    en = h[:, :2] / h[:, 2:]
    ox, oy = grid.to_utm(np.array([ORIGIN[0]]), np.array([ORIGIN[1]]))
    lon, lat = grid.to_lonlat(en[:, 0] + ox[0], en[:, 1] + oy[0])
    return np.column_stack([lon, lat])


PIXELS = np.array([[200, 1000], [1700, 1000], [1500, 650], [400, 650], [960, 800],
                   [960, 1050]], dtype=float)


@pytest.fixture()
def hom() -> Homography:
    return Homography.fit(PIXELS, _ground_of_pixels(PIXELS))


def test_fit_recovers_known_camera(hom):
    assert hom.error_m < 0.01
    probe = np.array([[100, 900], [1800, 700], [960, 600], [50, 1070]], dtype=float)
    got = hom.to_lonlat(probe)
    want = _ground_of_pixels(probe)
    gx, gy = grid.to_utm(got[:, 0], got[:, 1])
    wx, wy = grid.to_utm(want[:, 0], want[:, 1])
    assert np.max(np.hypot(gx - wx, gy - wy)) < 0.05
    back = hom.to_image(got)
    assert np.max(np.abs(back - probe)) < 0.01


def test_noisy_pairs_report_error_in_metres():
    rng = np.random.default_rng(5)
    ground = _ground_of_pixels(PIXELS)
    x, y = grid.to_utm(ground[:, 0], ground[:, 1])
    x = x + rng.normal(0, 0.5, len(x))
    y = y + rng.normal(0, 0.5, len(y))
    lon, lat = grid.to_lonlat(x, y)
    hom = Homography.fit(PIXELS, np.column_stack([lon, lat]))
    assert 0.05 < hom.error_m < 1.5


def test_pixels_above_horizon_are_nan(hom):
    # horizon at y = 540 - 1200·tan(30°) ≈ -153
    out = hom.to_lonlat([[960, -400], [960, 1000]])
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_image_polygon_to_ground_area(hom):
    # the ground square 10 m × 10 m, 20 m in front of the camera
    ox, oy = grid.to_utm(np.array([ORIGIN[0]]), np.array([ORIGIN[1]]))
    d = np.array([np.sin(np.radians(45)), np.cos(np.radians(45))]) * 20
    sq = shapely.affinity.translate(box(-5, -5, 5, 5), ox[0] + d[0], oy[0] + d[1])
    lon, lat = grid.to_lonlat(*np.asarray(sq.exterior.coords).T)
    img = hom.to_image(np.column_stack([lon, lat]))
    ground, area = hom.image_polygon_to_ground(Polygon(img))
    assert area == pytest.approx(100.0, rel=1e-3)
    assert ground.contains(Point(*grid.to_lonlat(ox + d[0], oy + d[1])))


def test_geofence_to_image_is_clipped_to_frame(hom):
    big = Point(*ORIGIN).buffer(0.01)  # ~1 km around the camera, also behind it
    img = hom.lonlat_polygon_to_image(big, W, H)
    assert img is not None
    minx, miny, maxx, maxy = img.bounds
    assert minx >= 0 and miny >= 0 and maxx <= W and maxy <= H
    # the geofence covers the whole visible ground, so the image polygon reaches the
    # frame bottom and both sides
    assert maxy == pytest.approx(H) and minx == pytest.approx(0) and maxx == pytest.approx(W)
    far = Point(ORIGIN[0] - 0.05, ORIGIN[1] - 0.05).buffer(0.001)  # behind the camera
    assert hom.lonlat_polygon_to_image(far, W, H) is None


def test_json_round_trip(hom):
    text = json.dumps(hom.to_json())
    again = Homography.from_json(text)
    assert set(json.loads(text)) == {"image_points", "ground_points", "matrix", "error_m"}
    assert np.allclose(again.matrix, hom.matrix) and again.error_m == hom.error_m
    with pytest.raises(ValueError, match="lacks 'matrix'"):
        Homography.from_json({"image_points": [], "ground_points": [], "error_m": 0})


@pytest.mark.parametrize("img,msg", [
    ([[0, 0], [1, 0], [0, 1]], "at least 4"),
    ([[0, 0], [100, 0], [200, 0], [300, 0]], "one line"),
    ([[0, 0], [100, 0], [100, 100], [100, 100]], "coincide"),
    ([[0, 0], [100, 0], [200, 0], [0, 100]], "no 4 of the 4"),
])
def test_degenerate_points_refused(img, msg):
    ground = [[104.0 + i * 1e-4, 10.0 + (i % 2) * 1e-4 + i * 3e-5] for i in range(len(img))]
    with pytest.raises(DegenerateHomography, match=msg):
        Homography.fit(img, ground)


def test_collinear_ground_points_refused():
    ground = [[104.0 + i * 1e-4, 10.0 + i * 1e-4] for i in range(4)]
    with pytest.raises(DegenerateHomography, match="ground_points: all 4 points lie on one line"):
        Homography.fit([[0, 0], [100, 0], [100, 100], [0, 100]], ground)


def test_fov_sector_geometry():
    utm = fov_polygon_utm(*ORIGIN, heading_deg=90, fov_deg=60, range_m=100)
    assert utm.area == pytest.approx(np.pi * 100**2 / 6, rel=0.01)
    poly = fov_polygon(*ORIGIN, heading_deg=90, fov_deg=60, range_m=100)
    ox, oy = grid.to_utm(np.array([ORIGIN[0]]), np.array([ORIGIN[1]]))
    east = grid.to_lonlat(ox + 80, oy)
    west = grid.to_lonlat(ox - 80, oy)
    assert poly.contains(Point(east[0][0], east[1][0]))
    assert not poly.contains(Point(west[0][0], west[1][0]))
    with pytest.raises(ValueError, match="fov_deg"):
        fov_polygon(*ORIGIN, 0, 0, 100)


def test_fov_from_homography_covers_calibrated_ground(hom):
    fov = fov_from_homography(hom, W, H, ORIGIN, max_range_m=60)
    ground = _ground_of_pixels(np.array([[960.0, 900.0]]))[0]
    assert fov.contains(Point(*ground))
    assert not fov.contains(Point(*ORIGIN))  # directly under the camera is out of frame


def test_coverage_percent_and_blind_spots():
    ox, oy = grid.to_utm(np.array([ORIGIN[0]]), np.array([ORIGIN[1]]))
    # a 200 m × 100 m ward; two 360° cameras of 50 m range at its left half
    ward = box(ox[0], oy[0], ox[0] + 200, oy[0] + 100)
    ward_ll = shapely.transform(ward, lambda c: np.column_stack(grid.to_lonlat(c[:, 0], c[:, 1])))
    cams = [grid.to_lonlat(ox + 50, oy + 50), grid.to_lonlat(ox + 150, oy + 50)]
    fovs = [fov_polygon(float(c[0][0]), float(c[1][0]), 0, 360, 50) for c in cams[:1]]
    areas = gpd.GeoDataFrame({"id": ["w1"], "name": ["Phường thử"]}, geometry=[ward_ll],
                             crs=4326)
    res = coverage_by_area(areas, fovs).iloc[0]
    assert res.area_m2 == pytest.approx(20000, rel=1e-3)
    assert res.percent_covered == pytest.approx(100 * np.pi * 2500 / 20000, rel=0.01)
    assert res.blind_spot_count == 1
    full = [fov_polygon(float(c[0][0]), float(c[1][0]), 0, 360, 50) for c in cams]
    res2 = coverage_by_area(areas, full).iloc[0]
    assert res2.percent_covered > res.percent_covered
    # uncovered corners of both circles remain as separate blind spots
    assert res2.blind_spot_count >= 2
    assert not coverage_union(full).is_empty
    none = coverage_by_area(areas, []).iloc[0]
    assert none.percent_covered == 0 and none.blind_spot_count == 1


def test_frame_with_horizon_is_clipped_to_the_ground():
    # the same camera tilted only 10° down: the horizon crosses the frame at y ≈ 328
    f, tilt = 1200.0, np.radians(10)
    K = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1]])
    fwd = np.array([0.0, np.cos(tilt), -np.sin(tilt)])
    right = np.array([1.0, 0.0, 0.0])
    R = np.vstack([right, np.cross(fwd, right), fwd])
    P = K @ np.column_stack([R[:, 0], R[:, 1], -R @ np.array([0.0, 0.0, 8.0])])
    inv = np.linalg.inv(P)
    px = np.array([[100, 1000], [1800, 1000], [1500, 500], [400, 500], [960, 700]], float)
    h = np.column_stack([px, np.ones(len(px))]) @ inv.T
    en = h[:, :2] / h[:, 2:]
    ox, oy = grid.to_utm(np.array([ORIGIN[0]]), np.array([ORIGIN[1]]))
    lon, lat = grid.to_lonlat(en[:, 0] + ox[0], en[:, 1] + oy[0])
    hom = Homography.fit(px, np.column_stack([lon, lat]))
    assert np.isnan(hom.to_lonlat([[960, 100]])).all()  # sky
    ground = hom.frame_ground_polygon(W, H)  # no range cut: reaches towards the horizon
    assert ground.is_valid and ground.area > 1e6
    cut = hom.frame_ground_polygon(W, H, ORIGIN, max_range_m=100)
    assert cut.area < np.pi * 100**2 / 2 and cut.area > 1000
    _, area = hom.image_polygon_to_ground(box(0, 600, W, H))
    assert 100 < area < 1e5


def test_camera_fovs_use_homography_or_fall_back(hom, caplog):
    good = {"id": "a", "lon": ORIGIN[0], "lat": ORIGIN[1], "range_m": 60,
            "homography": hom.to_json()}
    # a calibration that sees only sky for this frame: falls back to the sector
    sky = dict(hom.to_json())
    flipped = np.array(sky["matrix"], dtype=float)
    flipped[2] = -flipped[2]
    sky["matrix"] = flipped.tolist()
    broken = {"id": "b", "lon": ORIGIN[0], "lat": ORIGIN[1], "heading_deg": 90, "fov_deg": 60,
              "range_m": 50, "homography": sky}
    plain = {"id": "c", "lon": ORIGIN[0], "lat": ORIGIN[1], "heading_deg": 90, "fov_deg": 60,
             "range_m": 50, "homography": None}
    fovs = camera_fovs([good, broken, plain])
    assert fovs[0].equals(fov_from_homography(hom, 1920, 1080, ORIGIN, 60))
    assert fovs[1].equals(fovs[2])
    assert "camera b: homography footprint unusable" in caplog.text
