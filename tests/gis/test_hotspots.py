"""Gi* against a dense reference, hotspot detection and coverage normalisation."""

from datetime import datetime, timezone

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis import grid
from gis.hotspots import (analyse, cell_exposure, cell_hotspots, getis_ord_gi_star,
                          time_profile, ward_hotspots)

BASE = grid.cell_id(105.7766, 19.8075)  # Lam Sơn square
C0, R0 = (int(v[0]) for v in grid.unpack(np.array([BASE])))


def _dense_gi_star(x, W):
    """Textbook Gi* with a full weight matrix (Ord & Getis 1995, eq. 3)."""
    n = len(x)
    xb = x.mean()
    s = np.sqrt((x ** 2).sum() / n - xb ** 2)
    sw = W.sum(axis=1)
    sw2 = (W ** 2).sum(axis=1)
    return (W @ x - xb * sw) / (s * np.sqrt((n * sw2 - sw ** 2) / (n - 1)))


def test_gi_star_matches_dense_reference():
    rng = np.random.default_rng(11)
    side = 8
    x = rng.poisson(3, side * side).astype(float)
    ids = grid.pack(np.repeat(np.arange(side), side) + C0, np.tile(np.arange(side), side) + R0)
    pos = {c: i for i, c in enumerate(ids.tolist())}
    nb = [np.array([pos[c] for c in row if c in pos]) for row in grid.neighbour_ids(ids).tolist()]
    W = np.zeros((len(x), len(x)))
    for i, js in enumerate(nb):
        W[i, js] = 1
    z, p = getis_ord_gi_star(x, nb)
    assert np.allclose(z, _dense_gi_star(x, W))
    assert np.allclose(p, 2 * (1 - __import__("scipy").stats.norm.cdf(np.abs(z))))


def _grid_exposure(side, hours_of):
    out = []
    for i in range(side):
        for j in range(side):
            c, r = C0 + i, R0 + j
            box = shapely.box(c * 250, r * 250, (c + 1) * 250, (r + 1) * 250).buffer(-1)
            out.append((f"cam{i}-{j}", box, hours_of(i, j)))
    return out


def _incidents(side, count_of):
    ids = []
    for i in range(side):
        for j in range(side):
            ids += [int(grid.pack(np.array([C0 + i]), np.array([R0 + j]))[0])] * count_of(i, j)
    return np.array(ids, dtype=np.int64)


def _cluster(i, j):
    return 4 <= i <= 5 and 4 <= j <= 5


def test_cluster_is_a_significant_hotspot():
    side = 10
    exp = cell_exposure(_grid_exposure(side, lambda i, j: 100.0))
    assert exp.sum() == pytest.approx(100.0 * side * side)
    counts = lambda i, j: 30 if _cluster(i, j) else 5 + (i * j) % 3  # noqa: E731
    df = cell_hotspots(_incidents(side, counts), exp)
    hot = df[df.category.str.startswith("hot-99")]
    centre = {int(grid.pack(np.array([C0 + i]), np.array([R0 + j]))[0])
              for i in (4, 5) for j in (4, 5)}
    assert centre <= set(hot.cell_id)
    assert df.q.notna().all() and (df.loc[df.cell_id.isin(centre), "q"] < 0.01).all()
    assert df.iloc[0].cell_id in centre  # sorted by z


def test_more_cameras_is_not_a_false_hotspot():
    side = 10
    # the cluster has 6× the cameras (camera-hours) and 6× the incidents: same rate
    exp = cell_exposure(_grid_exposure(side, lambda i, j: 600.0 if _cluster(i, j) else 100.0))
    counts = lambda i, j: 30 if _cluster(i, j) else 5  # noqa: E731
    df = cell_hotspots(_incidents(side, counts), exp)
    assert np.allclose(df.rate, 0.05)
    assert (df.category == "ns").all()  # constant rate: nothing stands out


def test_ward_hotspots_and_profile():
    # 5 × 5 square wards; the centre 3 × 3 block has 10× the rate of the others (Gi* finds
    # clusters: one lone high ward among low neighbours is diluted by them)
    wards = gpd.GeoDataFrame(
        {"id": [f"w{i}{j}" for i in range(5) for j in range(5)],
         "name": [f"Phường {i}{j}" for i in range(5) for j in range(5)]},
        geometry=[shapely.box(105.7 + i * 0.01, 19.7 + j * 0.01, 105.71 + i * 0.01,
                              19.71 + j * 0.01) for i in range(5) for j in range(5)], crs=4326)
    import pandas as pd
    exposure = pd.Series(50.0, index=wards.id)
    inc = []
    for w in wards.id:
        inner = 1 <= int(w[1]) <= 3 and 1 <= int(w[2]) <= 3
        inc += [w] * (100 if inner else 10 + int(w[1]))
    inc += [None] * 3
    df = ward_hotspots(np.array(inc, dtype=object), wards, exposure).set_index("ward_id")
    assert df.loc["w22", "z"] > 2.5 and df.loc["w22", "category"].startswith("hot")
    assert df.loc["w00", "category"] == "ns"
    assert df.loc["w22", "n"] == 100 and df.loc["w22", "name"] == "Phường 22"
    # 2026-11-20 was a Friday; 13:30 UTC is 20:30 in Vietnam
    ts = np.array(["2026-11-20T13:30:00", "2026-11-20T17:10:00"], dtype="datetime64[s]")
    prof = time_profile(ts)
    assert prof[4, 20] == 1 and prof[5, 0] == 1 and prof.sum() == 2


def test_analyse_end_to_end_with_fov_cameras():
    wards = gpd.GeoDataFrame({"id": ["a"], "name": ["A"]},
                             geometry=[shapely.box(105.70, 19.70, 105.80, 19.85)], crs=4326)
    cams, lon, lat = [], [], []
    for k in range(6):
        c = {"id": f"c{k}", "lon": 105.72 + 0.01 * k, "lat": 19.75, "heading_deg": 0,
             "fov_deg": 90, "range_m": 100, "status": "online", "enabled": True}
        cams.append(c)
        n = 40 if k == 3 else 4
        lon += [c["lon"]] * n
        lat += [c["lat"] + 0.0005] * n
    lon, lat = np.array(lon), np.array(lat)
    inc = {"ts": np.full(len(lon), np.datetime64("2026-11-20T01:00:00", "s")), "lon": lon,
           "lat": lat, "ward_id": np.array(["a"] * len(lon), dtype=object),
           "cell_id": np.full(len(lon), -1, dtype=np.int64)}
    steps = []
    res = analyse(inc, cams, {"c0": 10.0}, wards, datetime(2026, 11, 20, tzinfo=timezone.utc),
                  datetime(2026, 11, 21, tzinfo=timezone.utc),
                  progress=lambda m, f: steps.append(f))
    assert steps[-1] == 1.0 and steps == sorted(steps)
    assert set(res.assumed_full_time) == {f"c{k}" for k in range(1, 6)}
    assert res.n_incidents == len(lon) and res.n_unwatched == 0
    top = res.cells.iloc[0]
    assert top.n == 40
    assert res.wards.iloc[0].n == len(lon)


def _result(cell_ids, exposure, camera_hours=None):
    from gis.hotspots import HotspotResult
    cells = cell_hotspots(np.asarray(cell_ids, dtype=np.int64), exposure)
    unwatched = int(cells.loc[cells["rate"].isna(), "n"].sum())
    hours = float(exposure.sum()) if camera_hours is None else camera_hours
    return HotspotResult(datetime(2026, 11, 16, tzinfo=timezone.utc),
                         datetime(2026, 11, 23, tzinfo=timezone.utc), cells,
                         __import__("pandas").DataFrame(), np.zeros((7, 24)), len(cell_ids),
                         unwatched, camera_hours=hours)


@pytest.mark.parametrize("case, reason", [
    ("hot", None),
    ("no_incidents", "no_incidents"),
    ("no_camera_hours", "no_camera_hours"),
    ("two_cells", "few_cells"),
    ("uniform", "uniform"),
    ("few_incidents", "few_incidents"),
    ("spread", "not_clustered"),
])
def test_a_result_without_hotspots_says_why(case, reason):
    side = 10
    exp = cell_exposure(_grid_exposure(side, lambda i, j: 100.0))
    if case == "hot":
        counts = lambda i, j: 30 if _cluster(i, j) else 5 + (i * j) % 3  # noqa: E731
    elif case in ("no_incidents", "no_camera_hours"):
        counts = lambda i, j: 0  # noqa: E731
    elif case == "two_cells":
        exp = cell_exposure(_grid_exposure(2, lambda i, j: 100.0 if i == 0 else 0.1))
        counts = lambda i, j: 4  # noqa: E731
    elif case == "uniform":
        counts = lambda i, j: 5  # noqa: E731
    elif case == "few_incidents":
        counts = lambda i, j: 1 if (i, j) in ((1, 1), (5, 7), (8, 2)) else 0  # noqa: E731
    else:  # plenty of incidents, spread like noise (a checkerboard is no cluster)
        counts = lambda i, j: 4 + (i + j) % 2  # noqa: E731
    result = _result(_incidents(side, counts), exp,
                     camera_hours=0.0 if case == "no_camera_hours" else None)
    if case == "no_camera_hours":
        result.n_incidents = 3
    got = result.no_hotspot_reason()
    assert (got and got[0]) == reason, got
    assert (len(result.hot_cells()) > 0) == (reason is None)
    if reason == "few_cells":
        assert got[1]["tested_cells"] == 2 and got[1]["min_cells"] == 3


def test_a_cell_without_incidents_is_never_a_hotspot():
    # (3, 4) touches the busy 2×2 block, so its Gi* is high, but nothing happened there
    side = 10
    exp = cell_exposure(_grid_exposure(side, lambda i, j: 100.0))
    counts = lambda i, j: 60 if _cluster(i, j) else (0 if (i, j) == (3, 4) else 3)  # noqa: E731
    df = cell_hotspots(_incidents(side, counts), exp).set_index("cell_id")
    empty = int(grid.pack(np.array([C0 + 3]), np.array([R0 + 4]))[0])
    assert df.loc[empty, "z"] > 1.65 and df.loc[empty, "n"] == 0
    assert df.loc[empty, "category"] == "ns"
    assert (df.loc[df.category.str.startswith("hot"), "n"] > 0).all()
