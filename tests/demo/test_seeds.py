"""Demo camera seeds: the 41 Phú Quốc cameras and ≈2,300 generated for Thanh Hóa."""

from collections import Counter

import numpy as np
import pytest
import shapely

from gis.boundaries import load_shipped
from gis.grid import to_utm
from gis.homography import Homography
from gis.tagging import AreaIndex
from webapp.demo import seeds


@pytest.fixture(scope="module")
def phu_quoc():
    wards, zones = load_shipped("phu-quoc")
    return wards, zones, seeds.phu_quoc_cameras()


@pytest.fixture(scope="module")
def thanh_hoa():
    wards, zones = load_shipped("thanh-hoa")
    return wards, zones, seeds.thanh_hoa_from_frame(wards)


def _tag(wards, zones, cams):
    index = AreaIndex.from_frames(wards, zones)
    lon = np.array([c.lon for c in cams])
    lat = np.array([c.lat for c in cams])
    return index.tag(lon, lat)


def test_phu_quoc_has_41_unique_cameras_of_every_kind(phu_quoc):
    _, _, cams = phu_quoc
    assert len(cams) == 41
    assert len({c.id for c in cams}) == 41
    assert len({(c.lon, c.lat) for c in cams}) == 41
    kinds = Counter(c.kind for c in cams)
    assert set(kinds) == {"ai", "legacy", "traffic"}
    assert kinds["ai"] >= 15


def test_phu_quoc_cameras_stand_inside_the_wards(phu_quoc):
    wards, zones, cams = phu_quoc
    ward_ids, _ = _tag(wards, zones, cams)
    outside = [c.id for c, w in zip(cams, ward_ids) if w is None]
    assert outside == []
    # on the island, not on Thổ Châu 100 km south-west
    assert all(10.0 < c.lat < 10.46 and 103.8 < c.lon < 104.1 for c in cams)


@pytest.mark.parametrize("site", ["bai_vong_port", "an_thoi_port", "airport", "night_market",
                                  "sun_group", "corona_casino", "ho_chi_minh_square",
                                  "tran_hung_dao", "nguyen_trung_truc", "duong_30_thang_4"])
def test_every_seed_site_has_cameras(phu_quoc, site):
    _, _, cams = phu_quoc
    at_site = [c for c in cams if c.site == site]
    assert at_site, f"no camera at {site}"
    anchor = seeds.PHU_QUOC_SITES[site]
    # cameras cluster around their site (roads are long: 3 km)
    x, y = to_utm(np.array([c.lon for c in at_site]), np.array([c.lat for c in at_site]))
    ax, ay = to_utm(np.array([anchor.lon]), np.array([anchor.lat]))
    assert np.hypot(x - ax[0], y - ay[0]).max() < 3000


@pytest.mark.parametrize("zone_id", ["pq-airport", "pq-port-bai-vong", "pq-port-an-thoi",
                                     "pq-night-market", "pq-sun-group", "pq-corona-casino",
                                     "pq-square-ho-chi-minh"])
def test_every_shipped_zone_is_watched_by_a_camera_inside_it(phu_quoc, zone_id):
    wards, zones, cams = phu_quoc
    _, zone_ids = _tag(wards, zones, cams)
    assert zone_id in set(zone_ids)


def test_calibrated_cameras_map_the_sample_view_to_the_street_in_front(phu_quoc):
    _, _, cams = phu_quoc
    calibrated = [c for c in cams if c.homography is not None]
    assert sorted(c.id for c in calibrated) == sorted(seeds.CALIBRATED_CAMERAS)
    for cam in calibrated:
        hom = Homography.from_json(cam.homography)
        assert len(hom.image_points) >= 4
        assert hom.error_m < 0.05
        # a person's feet at the middle of the road (x=384, y=400) are 10–20 m in front
        (lon, lat), = hom.to_lonlat([[384, 400]])
        cx, cy = to_utm(np.array([cam.lon]), np.array([cam.lat]))
        px, py = to_utm(np.array([lon]), np.array([lat]))
        dist = float(np.hypot(px[0] - cx[0], py[0] - cy[0]))
        assert 8 < dist < 22
        bearing = np.degrees(np.arctan2(px[0] - cx[0], py[0] - cy[0])) % 360
        assert abs((bearing - cam.heading_deg + 180) % 360 - 180) < 5
        assert cam.as_record()["homography"]["matrix"]


def test_thanh_hoa_counts_split_and_ids(thanh_hoa):
    _, _, cams = thanh_hoa
    kinds = Counter(c.kind for c in cams)
    assert kinds["ai"] == 1100 and kinds["legacy"] == 1000 and kinds["traffic"] >= 200
    assert 2250 <= len(cams) <= 2400
    assert len({c.id for c in cams}) == len(cams)
    assert len({(c.lon, c.lat) for c in cams}) == len(cams)


def test_thanh_hoa_cameras_cover_every_central_ward(thanh_hoa):
    wards, zones, cams = thanh_hoa
    ward_ids, _ = _tag(wards, zones, cams)
    central = set(wards.loc[wards["central"], "id"])
    assert None not in set(ward_ids)
    assert set(ward_ids) == central
    per_ward = Counter(ward_ids)
    assert min(per_ward.values()) >= 30


def test_thanh_hoa_generation_is_deterministic(thanh_hoa):
    wards, _, cams = thanh_hoa
    again = seeds.thanh_hoa_from_frame(wards)
    assert [c.as_record() for c in again] == [c.as_record() for c in cams]


def test_thanh_hoa_refuses_too_small_an_area():
    tiny = {"w": shapely.box(105.776, 19.807, 105.777, 19.808)}
    with pytest.raises(ValueError, match="too few"):
        seeds.thanh_hoa_cameras(tiny)


def test_bad_camera_kind_is_refused():
    with pytest.raises(ValueError, match="kind='ptz'"):
        seeds.CameraSeed("x", "x", "ptz", 104.0, 10.2, 0, 90, 50)


def test_thanh_hoa_has_calibrated_cameras_near_its_squares_and_markets():
    wards, zones = load_shipped("thanh-hoa")
    cams = seeds.thanh_hoa_from_frame(wards, zones)
    calibrated = [c for c in cams if c.homography is not None]
    assert 1 <= len(calibrated) <= 3
    assert all(c.kind == "ai" and c.config["rules"] for c in calibrated)
    # the rest is unchanged by the calibration
    plain = seeds.thanh_hoa_from_frame(wards)
    assert [c.id for c in cams] == [c.id for c in plain]
