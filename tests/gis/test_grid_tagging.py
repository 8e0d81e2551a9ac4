"""Grid cells and point tagging on real coordinates."""

import numpy as np
import pytest
from shapely import Point, Polygon, box

from gis import grid
from gis.tagging import AreaIndex

# Phú Quốc airport (airportsdata) and Hàm Rồng bridge, Thanh Hóa
AIRPORT = (103.995451, 10.167759)


def test_cell_is_250_m_square_on_the_ground():
    cid = grid.cell_id(*AIRPORT)
    (poly,) = grid.cell_polygons(np.array([cid]))
    from pyproj import Geod
    area, perimeter = Geod(ellps="WGS84").geometry_area_perimeter(poly)
    assert abs(abs(area) - 250 * 250) / (250 * 250) < 0.003
    assert abs(perimeter - 1000) < 2
    assert poly.contains(Point(*AIRPORT))


def test_cell_center_round_trip():
    rng = np.random.default_rng(7)
    lon = rng.uniform(103.8, 106.0, 5000)
    lat = rng.uniform(9.9, 20.0, 5000)
    ids = grid.cell_ids(lon, lat)
    assert ids.dtype == np.int64
    clon, clat = grid.cell_center(ids)
    assert np.array_equal(grid.cell_ids(clon, clat), ids)
    # the centre is at most half a diagonal (≈177 m ≈ 0.0016°) away
    assert np.max(np.hypot(clon - lon, clat - lat)) < 0.0025


def test_neighbours_are_adjacent():
    cid = grid.cell_id(*AIRPORT)
    nb = grid.neighbour_ids(np.array([cid]))[0]
    assert cid in nb and len(set(nb.tolist())) == 9
    x, y = grid.cell_center_utm(nb)
    cx, cy = grid.cell_center_utm(np.array([cid]))
    assert np.max(np.hypot(x - cx, y - cy)) == pytest.approx(250 * np.sqrt(2))


@pytest.mark.parametrize("lon,lat", [(np.nan, 10.0), (104.0, np.inf), (200.0, 10.0)])
def test_cell_ids_reject_bad_coordinates(lon, lat):
    with pytest.raises(ValueError, match="invalid coordinate"):
        grid.cell_ids(np.array([lon]), np.array([lat]))


def test_area_index_tags_wards_and_most_specific_zone():
    wards = {"west": box(103.9, 10.0, 104.0, 10.4), "east": box(104.0, 10.0, 104.1, 10.4)}
    zones = {"big": Point(*AIRPORT).buffer(0.02), "small": Point(*AIRPORT).buffer(0.005)}
    idx = AreaIndex(wards, zones)
    lon = np.array([AIRPORT[0], 103.95, 104.05, 105.0, 104.0])
    lat = np.array([AIRPORT[1], 10.2, 10.2, 10.2, 10.2])
    w, z = idx.tag(lon, lat)
    assert w.tolist() == ["west", "west", "east", None, "west"]  # on the edge: first wins
    assert z.tolist() == ["small", None, None, None, None]
    assert idx.zones_of(lon[:2], lat[:2]) == [["small", "big"], []]


def test_area_index_tree_path_matches_bbox_path():
    rng = np.random.default_rng(3)
    cells = {f"c{i}_{j}": box(104 + i * 0.01, 10 + j * 0.01, 104.01 + i * 0.01, 10.01 + j * 0.01)
             for i in range(20) for j in range(20)}  # 400 > tree threshold
    idx = AreaIndex(cells)
    lon = rng.uniform(104, 104.2, 20000)
    lat = rng.uniform(10, 10.2, 20000)
    w, _ = idx.tag(lon, lat)
    i = np.floor((lon - 104) / 0.01).astype(int)
    j = np.floor((lat - 10) / 0.01).astype(int)
    expect = np.array([f"c{a}_{b}" for a, b in zip(i, j)], dtype=object)
    assert (w == expect).mean() > 0.999  # edges may go either way


def test_area_index_rejects_empty_geometry():
    with pytest.raises(ValueError, match="'x' has an empty geometry"):
        AreaIndex({"x": Polygon()})
