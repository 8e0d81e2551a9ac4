"""Shipped boundaries and import of official files: real files, real CRSs, bad inputs."""

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import Point, Polygon

from gis.boundaries import LayerError, load_shipped, read_layer, slug, vietnam_outline
from gis.tagging import AreaIndex


@pytest.mark.parametrize("province,n_wards", [("phu-quoc", 9), ("thanh-hoa", 47)])
def test_shipped_layers(province, n_wards):
    wards, zones = load_shipped(province)
    assert len(wards) == n_wards and wards.crs.to_epsg() == 4326
    assert wards["approximate"].all() and zones["approximate"].all()
    assert wards["id"].is_unique and zones["id"].is_unique
    assert wards.geometry.is_valid.all() and zones.geometry.is_valid.all()
    assert all(g.within(vietnam_outline()) for g in wards.geometry)
    # wards do not overlap (Voronoi cells): pairwise intersections have no area
    utm = wards.to_crs(32648)
    total = utm.geometry.area.sum()
    assert utm.geometry.union_all().area == pytest.approx(total, rel=1e-6)
    # every zone's ward_id is the ward its centre falls in
    idx = AreaIndex.from_frames(wards)
    c = zones.to_crs(32648).centroid.to_crs(4326)
    w, _ = idx.tag(c.x.to_numpy(), c.y.to_numpy())
    assert w.tolist() == zones["ward_id"].tolist()


def test_shipped_ids_are_stable():
    pq_wards, pq_zones = load_shipped("phu-quoc")
    assert {"pq-airport", "pq-port-bai-vong", "pq-port-an-thoi", "pq-night-market",
            "pq-sun-group", "pq-corona-casino", "pq-square-ho-chi-minh"} == set(pq_zones["id"])
    assert "pq-duong-dong" in set(pq_wards["id"])
    airport = pq_zones.set_index("id").loc["pq-airport"]
    assert airport.kind == "airport"
    assert airport.geometry.contains(Point(103.995451, 10.167759))
    th_wards, _ = load_shipped("thanh-hoa")
    assert th_wards["central"].sum() == 12
    assert set(th_wards[th_wards.central]["id"]) >= {"th-dien-bien", "th-lam-son", "th-ba-dinh"}


def test_slug():
    assert slug("Phường Dương Đông") == "duong-dong"
    assert slug("Xã Thổ Châu") == "tho-chau"


@pytest.fixture()
def th_wards():
    return load_shipped("thanh-hoa")[0]


def _write(gdf: gpd.GeoDataFrame, path, epsg: int) -> None:
    out = gdf[["id", "name", "geometry"]].to_crs(epsg)
    driver = {".geojson": "GeoJSON", ".shp": "ESRI Shapefile", ".gpkg": "GPKG"}[path.suffix]
    out.to_file(path, driver=driver)


@pytest.mark.parametrize("suffix", [".geojson", ".shp", ".gpkg"])
@pytest.mark.parametrize("epsg", [4326, 32648, 3405])
def test_crs_round_trip(tmp_path, th_wards, suffix, epsg):
    path = tmp_path / f"wards{suffix}"
    _write(th_wards, path, epsg)
    got = read_layer(path, "wards", province="thanh-hoa")
    assert got.crs.to_epsg() == 4326
    assert got["id"].tolist() == th_wards["id"].tolist()
    assert not got["approximate"].any()
    for a, b in zip(got.geometry, th_wards.geometry):
        assert shapely.hausdorff_distance(a, b) < 1e-6  # ≈ 0.1 m
    assert got.iloc[0]["properties"]["source_file"] == path.name


def test_missing_crs_in_metres_is_refused_then_given(tmp_path, th_wards):
    path = tmp_path / "nocrs.geojson"
    doc = json.loads(th_wards[["id", "name", "geometry"]].to_crs(32648).to_json())
    doc.pop("crs", None)
    path.write_text(json.dumps(doc))
    with pytest.raises(LayerError, match="not degrees"):
        read_layer(path, "wards", province="thanh-hoa")
    got = read_layer(path, "wards", province="thanh-hoa", crs="EPSG:32648")
    assert shapely.hausdorff_distance(got.geometry.iloc[0], th_wards.geometry.iloc[0]) < 1e-6


def _fc(features):
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
        for p, g in features]}


SQUARE = Polygon([(105.77, 19.80), (105.78, 19.80), (105.78, 19.81), (105.77, 19.81)])
BOWTIE = Polygon([(105.77, 19.80), (105.78, 19.81), (105.78, 19.80), (105.77, 19.81)])


# a square with a tiny bow-tie loop on its western edge
LOOPED = Polygon([(105.77, 19.80), (105.78, 19.80), (105.78, 19.81), (105.77, 19.81),
                  (105.77, 19.8051), (105.7701, 19.8049), (105.7701, 19.8051),
                  (105.77, 19.8049)])


def test_slightly_self_intersecting_polygon_is_repaired_and_marked(tmp_path):
    path = tmp_path / "z.geojson"
    path.write_text(json.dumps(_fc([({"name": "Nơ", "kind": "square"}, LOOPED)])))
    got = read_layer(path, "zones")
    assert got.geometry.iloc[0].is_valid
    assert got.geometry.iloc[0].area == pytest.approx(SQUARE.area, rel=1e-3)
    props = got.iloc[0]["properties"]
    assert props["repaired"] is True
    assert props["repair"].startswith("Self-intersection[") and "area changed by" in props["repair"]


def test_bowtie_is_refused_not_repaired(tmp_path):
    """A bow-tie's halves cancel as drawn; make_valid would invent an area: refused."""
    path = tmp_path / "bowtie.geojson"
    path.write_text(json.dumps(_fc([({"name": "Nơ", "kind": "square"}, BOWTIE)])))
    with pytest.raises(LayerError, match=r"feature #0 \('Nơ'\): invalid polygon "
                                         r"\(Self-intersection.*area by 100%"):
        read_layer(path, "zones")


def test_array_valued_properties_are_kept_as_json(tmp_path):
    path = tmp_path / "api.geojson"
    path.write_text(json.dumps(_fc([({"name": "A", "tags": ["x", "y"], "n": [1, 2],
                                      "meta": {"k": [1.5]}}, SQUARE)])))
    props = read_layer(path, "wards", province="thanh-hoa").iloc[0]["properties"]
    assert props["tags"] == ["x", "y"] and props["n"] == [1, 2] and props["meta"] == {"k": [1.5]}
    json.dumps(props)


@pytest.mark.parametrize("features,kind,message", [
    ([({"name": ""}, SQUARE)], "wards", "empty name"),
    ([({"name": "A"}, SQUARE), ({"name": "A"}, shapely.affinity.translate(SQUARE, 0.02))],
     "wards", r"feature #1 \('A'\): duplicate name"),
    ([({"name": "Xa"}, shapely.affinity.translate(SQUARE, -100, 0))], "wards",
     "outside Vietnam"),
    ([({"name": "Sai"}, Point(105.77, 19.8))], "wards", "not a polygon"),
    ([({"name": "Cổng", "kind": "gate"}, SQUARE)], "zones", "zone kind 'gate'"),
    ([({"name": "Dẹt", "kind": "square"},
       Polygon([(105.77, 19.80), (105.78, 19.80), (105.775, 19.80)]))], "zones",
     "cannot be repaired"),
])
def test_bad_features_are_refused_by_name(tmp_path, features, kind, message):
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(_fc(features)))
    with pytest.raises(LayerError, match=message):
        read_layer(path, kind, province="thanh-hoa")


def test_broken_geojson_is_refused(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat')
    with pytest.raises(LayerError, match="cannot read"):
        read_layer(path, "wards", province="thanh-hoa")
    with pytest.raises(LayerError, match="no such file"):
        read_layer(tmp_path / "absent.gpkg", "wards", province="thanh-hoa")


def test_wrong_crs_label_is_caught_as_outside_vietnam(tmp_path, th_wards):
    # metres written but labelled as Hanoi-area VN-2000 3-degree zone: lands far away
    path = tmp_path / "mislabelled.gpkg"
    gdf = th_wards[["id", "name", "geometry"]].to_crs(32648).set_crs(3857, allow_override=True)
    gdf.to_file(path, driver="GPKG")
    with pytest.raises(LayerError, match="outside Vietnam"):
        read_layer(path, "wards", province="thanh-hoa")
