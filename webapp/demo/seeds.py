"""Demo cameras: the 41 Phú Quốc cameras at the seed's sites and ≈2,300 over Thanh Hóa.

Phú Quốc cameras stand at the real places (hand-placed, approximate, laid out around the
zones shipped in ``gis/data`` so that map and cameras agree): the ports of Bãi Vòng and An Thới,
the international airport, Dương Đông night market, the Sun Group area at the southern
tip, Corona casino at Gành Dầu, Hồ Chí Minh square and the main roads (Trần Hưng Đạo,
Nguyễn Trung Trực, 30 Tháng 4). Three of them carry a real homography that places the
view of OpenCV's ``vtest.avi`` sample (768×576, a road seen from a first floor) on a
plausible stretch of street, so the demo's real detections geotag to the ground.

Thanh Hóa cameras are generated, deterministically, along a synthetic street grid laid
over the twelve central wards: 1,100 AI cameras, 1,000 legacy ones and 220 traffic
cameras at the grid's junctions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.grid import to_lonlat, to_utm
from gis.homography import Homography

#: The camera kinds of the ``cameras`` table.
CAMERA_KINDS = ("ai", "legacy", "traffic")

#: Size of the sample clip the calibrated demo cameras play (vtest.avi).
SAMPLE_FRAME_SIZE = (768, 576)


@dataclass(frozen=True, slots=True)
class Site:
    """A place from the demo seed that cameras watch; zone kind as in the ``zones`` table."""

    key: str
    name_vi: str
    name_en: str
    zone_kind: str | None
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class CameraSeed:
    """One demo camera as the ``cameras`` table holds it (ward and zones come from tagging)."""

    id: str
    name: str
    kind: str
    lon: float
    lat: float
    heading_deg: float
    fov_deg: float
    range_m: float
    site: str | None = None
    homography: Mapping[str, Any] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in CAMERA_KINDS:
            raise ValueError(f"camera {self.id}: kind={self.kind!r} is not one of {CAMERA_KINDS}")
        if not (-180 <= self.lon <= 180 and -90 <= self.lat <= 90):
            raise ValueError(f"camera {self.id}: lon={self.lon!r}, lat={self.lat!r}")

    def as_record(self) -> dict[str, Any]:
        """The camera as a dict with the ``cameras`` table's columns (no ward/zones yet)."""
        return {
            "id": self.id, "name": self.name, "kind": self.kind,
            "lon": self.lon, "lat": self.lat, "heading_deg": self.heading_deg,
            "fov_deg": self.fov_deg, "range_m": self.range_m, "stream_url": None,
            "status": "unknown", "homography": None if self.homography is None
            else dict(self.homography), "config": dict(self.config), "enabled": True,
        }


# -- Phú Quốc -------------------------------------------------------------------------------

#: The seed's sites, at the centroids of the zones shipped in ``gis/data`` (the airport's
#: is the aerodrome reference point from PyPI ``airportsdata``); roads and beaches have no
#: zone. All approximate.
PHU_QUOC_SITES: Mapping[str, Site] = {s.key: s for s in (
    Site("bai_vong_port", "Cảng Bãi Vòng", "Bãi Vòng port", "port", 104.0470, 10.1520),
    Site("an_thoi_port", "Cảng An Thới", "An Thới port", "port", 104.0110, 10.0220),
    Site("airport", "Cảng hàng không quốc tế Phú Quốc", "Phú Quốc International Airport",
         "airport", 103.995451, 10.167759),
    Site("night_market", "Chợ đêm Dương Đông", "Dương Đông night market", "market",
         103.9590, 10.2170),
    Site("sun_group", "Khu du lịch Sun Group (Thị trấn Hoàng Hôn)",
         "Sun Group area (Sunset Town)", "tourist_area", 104.0130, 10.0300),
    Site("corona_casino", "Corona Casino Phú Quốc", "Corona casino", "casino",
         103.8570, 10.3340),
    Site("ho_chi_minh_square", "Quảng trường Hồ Chí Minh", "Hồ Chí Minh square", "square",
         103.9660, 10.2215),
    Site("tran_hung_dao", "Đường Trần Hưng Đạo", "Trần Hưng Đạo street", None,
         103.9665, 10.1915),
    Site("nguyen_trung_truc", "Đường Nguyễn Trung Trực", "Nguyễn Trung Trực street", None,
         103.9710, 10.2140),
    Site("duong_30_thang_4", "Đường 30 Tháng 4", "30 Tháng 4 street", None,
         103.9685, 10.2200),
    Site("ham_ninh", "Làng chài Hàm Ninh", "Hàm Ninh fishing village", None,
         104.0495, 10.1808),
    Site("bai_sao", "Bãi Sao", "Sao beach", None, 104.0365, 10.0575),
)}

# (site, place, kind, lat, lon, heading°, fov°, range m)
_PHU_QUOC_CAMERAS: tuple[tuple[str, str, str, float, float, float, float, float], ...] = (
    ("bai_vong_port", "cổng vào cảng", "ai", 10.1527, 104.0450, 100, 90, 80),
    ("bai_vong_port", "cầu tàu khách", "ai", 10.1515, 104.0473, 120, 70, 120),
    ("bai_vong_port", "nhà chờ", "ai", 10.1521, 104.0465, 60, 80, 50),
    ("bai_vong_port", "bãi xe", "legacy", 10.1533, 104.0463, 200, 90, 60),
    ("an_thoi_port", "cổng cảng", "ai", 10.0226, 104.0117, 200, 90, 80),
    ("an_thoi_port", "cầu tàu", "ai", 10.0214, 104.0104, 230, 70, 120),
    ("an_thoi_port", "nhà chờ", "ai", 10.0221, 104.0110, 180, 80, 50),
    ("an_thoi_port", "đường vào cảng", "legacy", 10.0238, 104.0127, 20, 90, 80),
    ("airport", "sảnh đi", "ai", 10.1712, 103.9948, 180, 90, 60),
    ("airport", "sảnh đến", "ai", 10.1710, 103.9960, 180, 90, 60),
    ("airport", "bãi đỗ xe", "ai", 10.1722, 103.9955, 0, 100, 80),
    ("airport", "hàng rào sân đỗ", "ai", 10.1695, 103.9930, 200, 60, 150),
    ("airport", "đường vào nhà ga", "traffic", 10.1740, 103.9975, 30, 60, 100),
    ("night_market", "cổng Bạch Đằng", "ai", 10.2186, 103.9590, 180, 90, 50),
    ("night_market", "dãy hải sản", "ai", 10.2176, 103.9589, 180, 90, 50),
    ("night_market", "dãy quà lưu niệm", "ai", 10.2167, 103.9591, 0, 90, 50),
    ("night_market", "ngã ba Võ Thị Sáu", "ai", 10.2156, 103.9590, 0, 90, 60),
    ("night_market", "lối ra Dinh Cậu", "ai", 10.2181, 103.9588, 270, 80, 80),
    ("night_market", "bãi xe chợ đêm", "legacy", 10.2160, 103.9595, 300, 90, 60),
    ("sun_group", "Thị trấn Hoàng Hôn", "ai", 10.0300, 104.0130, 250, 90, 80),
    ("sun_group", "Cầu Hôn", "ai", 10.0293, 104.0115, 220, 70, 100),
    ("sun_group", "ga cáp treo Hòn Thơm", "ai", 10.0320, 104.0160, 180, 90, 60),
    ("sun_group", "quảng trường nhạc nước", "legacy", 10.0307, 104.0140, 300, 90, 80),
    ("corona_casino", "sảnh casino", "ai", 10.3340, 103.8570, 270, 90, 40),
    ("corona_casino", "lối vào", "ai", 10.3345, 103.8580, 250, 80, 60),
    ("corona_casino", "bãi xe", "legacy", 10.3335, 103.8585, 300, 90, 70),
    ("corona_casino", "đường Gành Dầu", "traffic", 10.3350, 103.8600, 0, 60, 100),
    ("ho_chi_minh_square", "tượng đài", "ai", 10.2215, 103.9660, 180, 90, 70),
    ("ho_chi_minh_square", "khán đài", "ai", 10.2210, 103.9667, 300, 90, 70),
    ("ho_chi_minh_square", "góc Hùng Vương", "legacy", 10.2221, 103.9654, 135, 90, 60),
    ("tran_hung_dao", "ngã ba Nguyễn Trung Trực", "traffic", 10.2118, 103.9612, 190, 60, 120),
    ("tran_hung_dao", "Km 2", "traffic", 10.1990, 103.9645, 190, 60, 120),
    ("tran_hung_dao", "Bãi Trường", "traffic", 10.1840, 103.9685, 195, 60, 120),
    ("tran_hung_dao", "Km 7", "traffic", 10.1700, 103.9725, 200, 60, 120),
    ("nguyen_trung_truc", "chợ Dương Đông", "traffic", 10.2150, 103.9640, 90, 60, 120),
    ("nguyen_trung_truc", "ngã tư 30 Tháng 4", "traffic", 10.2145, 103.9700, 90, 60, 120),
    ("nguyen_trung_truc", "đường ra sân bay", "traffic", 10.2120, 103.9790, 110, 60, 120),
    ("duong_30_thang_4", "trước UBND thành phố", "traffic", 10.2185, 103.9690, 0, 60, 120),
    ("duong_30_thang_4", "cầu Dương Đông", "traffic", 10.2215, 103.9680, 350, 60, 120),
    ("ham_ninh", "cầu cảng Hàm Ninh", "legacy", 10.1808, 104.0495, 90, 90, 80),
    ("bai_sao", "bãi tắm Bãi Sao", "legacy", 10.0575, 104.0365, 120, 100, 100),
)

#: Cameras that play the real sample clip in the demo, with a homography for its view.
CALIBRATED_CAMERAS = ("pq-night_market-2", "pq-night_market-4", "pq-ho_chi_minh_square-1")

# vtest.avi: a first-floor view of a road. The image's bottom edge is ground about 8 m in
# front of the camera and 8 m wide; the row at y=190 (people's feet on the far kerb) is
# about 22 m away and 17.5 m wide (a walking person there is ~75 px tall, ~44 px/m).
_SAMPLE_IMAGE_POINTS = ((0, 576), (384, 576), (768, 576), (768, 190), (384, 190), (0, 190))
_SAMPLE_GROUND_LOCAL = ((-4.0, 8.0), (0.0, 8.0), (4.0, 8.0), (8.75, 22.0), (0.0, 22.0),
                        (-8.75, 22.0))


#: Worker settings and rules (``analytics.config.CameraConfig`` fields) of the cameras
#: that play the sample clip, drawn on its view as a site would draw them:
#:
#: * the road is crossed by a counting line (both ways; counts, not alerts);
#: * the taped-off works area behind the cones is no entry (intrusion; one ongoing alert
#:   per 5 minutes at most while people keep stepping in, store.ongoing);
#: * anyone staying 2 minutes by the parked vehicles is reported (loitering);
#: * crowd density is sampled every 15 s for the heatmap and alerts above 2 people/m²,
#:   where a walking crowd starts to shuffle (Fruin's level of service F), as the event
#:   simulator does; a crowd that stays dense re-alerts every 30 minutes at most;
#: * people in view are counted every minute.
SAMPLE_VIEW_CONFIG: Mapping[str, Any] = {
    "sample_fps": 2.0,
    "loop": True,
    "realtime": True,
    "rules": [
        {"id": "road-line", "kind": "line_crossing", "line": [[300, 200], [560, 560]]},
        {"id": "works-area", "kind": "intrusion", "alert_cooldown_s": 300.0,
         "polygon": [[0, 150], [0, 168], [165, 186], [300, 196], [445, 190], [600, 135],
                     [590, 122], [330, 138]]},
        {"id": "parked-vehicles", "kind": "loitering", "dwell_s": 120.0,
         "polygon": [[620, 40], [768, 30], [768, 105], [640, 110]]},
        {"id": "crowd", "kind": "crowd_density", "threshold_per_m2": 2.0,
         "sample_every_s": 15.0, "alert_cooldown_s": 1800.0},
        {"id": "people", "kind": "person_count", "every_s": 60.0},
    ],
}


def sample_view_homography(lon: float, lat: float, heading_deg: float) -> Homography:
    """The homography of the sample clip's view for a camera at lon/lat facing heading."""
    cx, cy = (float(v[0]) for v in to_utm(np.array([lon]), np.array([lat])))
    h = math.radians(heading_deg)
    local = np.asarray(_SAMPLE_GROUND_LOCAL, dtype=float)
    # x: to the camera's right, y: forward; heading clockwise from north
    east = cx + local[:, 0] * math.cos(h) + local[:, 1] * math.sin(h)
    north = cy - local[:, 0] * math.sin(h) + local[:, 1] * math.cos(h)
    glon, glat = to_lonlat(east, north)
    return Homography.fit(_SAMPLE_IMAGE_POINTS, np.column_stack([glon, glat]))


def phu_quoc_cameras() -> list[CameraSeed]:
    """The 41 Phú Quốc demo cameras, in a stable order."""
    seeds: list[CameraSeed] = []
    counter: dict[str, int] = {}
    for site_key, place, kind, lat, lon, heading, fov, rng in _PHU_QUOC_CAMERAS:
        site = PHU_QUOC_SITES[site_key]
        counter[site_key] = counter.get(site_key, 0) + 1
        cam_id = f"pq-{site_key}-{counter[site_key]}"
        homography = None
        if cam_id in CALIBRATED_CAMERAS:
            homography = sample_view_homography(lon, lat, heading).to_json()
        seeds.append(CameraSeed(
            id=cam_id, name=f"{site.name_vi} – {place}", kind=kind, lon=lon, lat=lat,
            heading_deg=float(heading), fov_deg=float(fov), range_m=float(rng),
            site=site_key, homography=homography,
            config=SAMPLE_VIEW_CONFIG if homography is not None else {},
        ))
    return seeds


# -- Thanh Hóa ------------------------------------------------------------------------------

#: Thanh Hóa city centre (Lam Sơn ward, by the provincial People's Committee).
THANH_HOA_CENTRE = (105.7764, 19.8075)
#: How many wards nearest the centre count as "central".
CENTRAL_WARDS = 12
THANH_HOA_COUNTS = {"ai": 1100, "legacy": 1000, "traffic": 220}
#: Street spacing of the synthetic grid and spacing of candidate positions along it (m).
_STREET_SPACING_M = 180.0
_ALONG_STEP_M = 20.0
_GRID_ROTATION_DEG = 17.0
_SEED = 20260421


def central_wards(wards: Mapping[str, BaseGeometry], n: int = CENTRAL_WARDS,
                  centre: tuple[float, float] = THANH_HOA_CENTRE) -> list[str]:
    """Ids of the ``n`` wards whose centroids are nearest ``centre`` (lon, lat)."""
    if not wards:
        raise ValueError("no wards to choose the central ones from")
    ids = sorted(wards)
    cent = np.array([[wards[k].centroid.x, wards[k].centroid.y] for k in ids])
    x, y = to_utm(cent[:, 0], cent[:, 1])
    cx, cy = to_utm(np.array([centre[0]]), np.array([centre[1]]))
    order = np.argsort(np.hypot(x - cx[0], y - cy[0]), kind="stable")
    return [ids[i] for i in order[:n]]


def _street_candidates(area_utm: BaseGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along a rotated street grid inside the area: (xy, heading°, is_junction)."""
    minx, miny, maxx, maxy = area_utm.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = math.hypot(maxx - minx, maxy - miny) / 2 + _STREET_SPACING_M
    offsets = np.arange(-half, half + 1e-6, _STREET_SPACING_M)
    along = np.arange(-half, half + 1e-6, _ALONG_STEP_M)
    rot = math.radians(_GRID_ROTATION_DEG)
    u = np.array([math.cos(rot), math.sin(rot)])     # street direction of family A
    v = np.array([-math.sin(rot), math.cos(rot)])    # street direction of family B
    pts, heads, junction = [], [], []
    for direction, across in ((u, v), (v, u)):
        heading = math.degrees(math.atan2(direction[0], direction[1])) % 360
        o, a = np.meshgrid(offsets, along, indexing="ij")
        xy = (np.array([cx, cy]) + o.reshape(-1, 1) * across + a.reshape(-1, 1) * direction)
        pts.append(xy)
        heads.append(np.full(len(xy), heading))
        # a position is a junction where its distance along the street is a grid offset
        k = (a.ravel() + half) / _STREET_SPACING_M
        junction.append(np.isclose(k, np.round(k)))
    xy = np.vstack(pts)
    heading = np.concatenate(heads)
    is_junction = np.concatenate(junction)
    # each junction appears once per street family: keep family A's copy only
    keep = shapely.contains_xy(area_utm, xy[:, 0], xy[:, 1])
    keep[len(pts[0]):] &= ~is_junction[len(pts[0]):]
    return xy[keep], heading[keep], is_junction[keep]


def thanh_hoa_cameras(wards: Mapping[str, BaseGeometry],
                      ward_names: Mapping[str, str] | None = None,
                      central: Sequence[str] | None = None,
                      counts: Mapping[str, int] = THANH_HOA_COUNTS,
                      seed: int = _SEED) -> list[CameraSeed]:
    """≈2,300 cameras along a street grid over Thanh Hóa's central wards (deterministic).

    ``wards`` maps ward id → lon/lat polygon; ``central`` names the central wards (default:
    the twelve nearest the city centre); ``ward_names`` gives display names.
    """
    chosen = sorted(central) if central else central_wards(wards)
    unknown = [k for k in chosen if k not in wards]
    if unknown:
        raise ValueError(f"central wards {unknown} are not among the wards given")
    area = shapely.union_all([wards[k] for k in chosen])
    area_utm = shapely.transform(area, lambda c: np.column_stack(to_utm(c[:, 0], c[:, 1])))
    shapely.prepare(area_utm)
    xy, heading, is_junction = _street_candidates(area_utm)
    rng = np.random.default_rng(seed)
    junctions = np.flatnonzero(is_junction)
    along = np.flatnonzero(~is_junction)
    n_traffic, n_ai, n_legacy = counts["traffic"], counts["ai"], counts["legacy"]
    if len(junctions) < n_traffic or len(along) < n_ai + n_legacy:
        raise ValueError(f"the central wards' street grid has {len(junctions)} junctions and "
                         f"{len(along)} street positions; too few for {dict(counts)}")
    pick_j = np.sort(rng.choice(junctions, n_traffic, replace=False))
    pick_s = rng.choice(along, n_ai + n_legacy, replace=False)
    kinds = np.array(["ai"] * n_ai + ["legacy"] * n_legacy)
    order = np.argsort(pick_s, kind="stable")
    pick_s, kinds = pick_s[order], kinds[order]
    idx = np.concatenate([pick_j, pick_s])
    kind_of = np.concatenate([np.array(["traffic"] * n_traffic), kinds])
    # cameras look along their street, either way, with a little mounting error
    flip = rng.integers(0, 2, len(idx)) * 180.0
    jitter = rng.normal(0.0, 6.0, len(idx))
    head = (heading[idx] + flip + jitter) % 360
    lon, lat = to_lonlat(xy[idx, 0], xy[idx, 1])
    fov = np.where(kind_of == "traffic", 60.0, np.where(kind_of == "ai", 90.0, 80.0))
    rng_m = np.where(kind_of == "traffic", 120.0, np.where(kind_of == "ai", 60.0, 50.0))
    ward_of = _ward_of(wards, chosen, lon, lat)
    names = dict(ward_names or {})
    number = {k: 0 for k in CAMERA_KINDS}
    prefix = {"ai": "ai", "legacy": "lg", "traffic": "tf"}
    label = {"ai": "Camera AI", "legacy": "Camera thường", "traffic": "Camera giao thông"}
    seeds = []
    for i in range(len(idx)):
        kind = str(kind_of[i])
        number[kind] += 1
        ward = names.get(ward_of[i], ward_of[i])
        seeds.append(CameraSeed(
            id=f"th-{prefix[kind]}-{number[kind]:04d}",
            name=f"{label[kind]} {number[kind]:04d} – {ward}", kind=kind,
            lon=round(float(lon[i]), 7), lat=round(float(lat[i]), 7),
            heading_deg=round(float(head[i]), 1), fov_deg=float(fov[i]),
            range_m=float(rng_m[i]),
        ))
    return seeds


def thanh_hoa_from_frame(wards, zones=None) -> list[CameraSeed]:  # noqa: ANN001
    """Thanh Hóa cameras over wards (and zones) GeoDataFrames as :mod:`gis.boundaries` gives.

    The AI camera nearest each square or market zone (at most three) gets the sample
    clip's homography and rules, so real analytics run in Thanh Hóa as well.
    """
    geoms = dict(zip(wards["id"].astype(str), wards.geometry))
    names = dict(zip(wards["id"].astype(str), wards["name"].astype(str)))
    central = None
    if "central" in wards.columns and wards["central"].astype(bool).any():
        central = list(wards.loc[wards["central"].astype(bool), "id"].astype(str))
    cams = thanh_hoa_cameras(geoms, names, central)
    anchors = [THANH_HOA_CENTRE]
    if zones is not None and len(zones):
        busy = zones[zones["kind"].isin(["square", "market"])].sort_values("id")
        anchors = [(g.centroid.x, g.centroid.y) for g in busy.geometry][:3] or anchors
    return calibrate_nearest(cams, anchors)


def calibrate_nearest(cams: list[CameraSeed], anchors: Sequence[tuple[float, float]]
                      ) -> list[CameraSeed]:
    """Give the AI camera nearest each (lon, lat) anchor the sample clip's view and rules."""
    ai = [i for i, c in enumerate(cams) if c.kind == "ai"]
    x, y = to_utm(np.array([cams[i].lon for i in ai]), np.array([cams[i].lat for i in ai]))
    out = list(cams)
    taken: set[int] = set()
    for lon, lat in anchors:
        ax, ay = to_utm(np.array([lon]), np.array([lat]))
        order = np.argsort(np.hypot(x - ax[0], y - ay[0]), kind="stable")
        j = next(ai[k] for k in order if ai[k] not in taken)
        taken.add(j)
        cam = cams[j]
        hom = sample_view_homography(cam.lon, cam.lat, cam.heading_deg).to_json()
        out[j] = replace(cam, homography=hom, config=SAMPLE_VIEW_CONFIG)
    return out


def _ward_of(wards: Mapping[str, BaseGeometry], chosen: list[str], lon: np.ndarray,
             lat: np.ndarray) -> list[str]:
    out = [chosen[0]] * len(lon)
    found = np.zeros(len(lon), dtype=bool)
    for key in chosen:
        inside = shapely.contains_xy(wards[key], lon, lat) & ~found
        for i in np.flatnonzero(inside):
            out[i] = key
        found |= inside
    return out
