"""store.areas against a real PostgreSQL: atomic replacement, re-tagging, readers."""

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest

from gis.boundaries import LayerError, load_shipped, read_layer
from store import areas

# Hàm Rồng ward, Lam Sơn square (Điện Biên ward), the Phú Quốc airport
CAMERAS = [("cam-ham-rong", 105.7859, 19.8389), ("cam-lam-son", 105.7766, 19.8075),
           ("cam-pq-airport", 103.995451, 10.167759), ("cam-sea", 106.9, 19.0)]


def _add_cameras(conn):
    conn.execute("DELETE FROM cameras")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO cameras (id, name, lon, lat) VALUES (%s, %s, %s, %s)",
                        [(i, i, lon, lat) for i, lon, lat in CAMERAS])
    conn.commit()


def _cams(conn):
    return {r[0]: (r[1], r[2]) for r in
            conn.execute("SELECT id, ward_id, zone_ids FROM cameras").fetchall()}


def test_replace_shipped_and_retag(conn):
    _add_cameras(conn)
    v0 = areas.area_version(conn)
    for prov in ("thanh-hoa", "phu-quoc"):
        wards, zones = load_shipped(prov)
        areas.replace_wards(conn, wards, prov)
        res = areas.replace_zones(conn, zones, prov)
    conn.commit()
    assert res.inserted == 7 and areas.area_version(conn) == v0 + 4
    cams = _cams(conn)
    assert cams["cam-ham-rong"] == ("th-ham-rong", [])
    assert cams["cam-lam-son"][0] == "th-dien-bien"
    assert "th-square-lam-son" in cams["cam-lam-son"][1]
    assert cams["cam-pq-airport"] == ("pq-duong-to", ["pq-airport"])
    assert cams["cam-sea"] == (None, [])
    fc = areas.wards_geojson(conn, "phu-quoc")
    assert len(fc["features"]) == 9 and all(f["properties"]["approximate"]
                                            for f in fc["features"])
    zfc = areas.zones_geojson(conn, ["airport"])
    assert [f["id"] for f in zfc["features"]] == ["pq-airport"]
    assert zfc["features"][0]["properties"]["ward_id"] == "pq-duong-to"
    idx = areas.load_area_index(conn)
    w, z = idx.tag(np.array([103.995451]), np.array([10.167759]))
    assert (w[0], z[0]) == ("pq-duong-to", "pq-airport")
    # replacing one province leaves the other alone
    th_wards, _ = load_shipped("thanh-hoa")
    areas.replace_wards(conn, th_wards.iloc[:5], "thanh-hoa")
    conn.commit()
    assert conn.execute("SELECT count(*) FROM wards").fetchone()[0] == 5 + 9
    assert _cams(conn)["cam-lam-son"][0] == "th-dien-bien"  # among the first five kept
    assert _cams(conn)["cam-pq-airport"][0] == "pq-duong-to"


def test_failed_replacement_writes_nothing(conn):
    _add_cameras(conn)
    wards, _ = load_shipped("thanh-hoa")
    areas.replace_wards(conn, wards, "thanh-hoa")
    conn.commit()
    before = conn.execute("SELECT id, geometry FROM wards ORDER BY id").fetchall()
    version = areas.area_version(conn)
    bad = wards.copy()
    bad.loc[bad.index[3], "id"] = bad.iloc[0]["id"]  # duplicate id, caught before writing
    with pytest.raises(ValueError, match="duplicate id"):
        areas.replace_wards(conn, bad, "thanh-hoa")
    other = wards.copy()
    other["province"] = "phu-quoc"
    with pytest.raises(ValueError, match="is not 'thanh-hoa'"):
        areas.replace_wards(conn, other, "thanh-hoa")
    # a failure inside the database, after the DELETE ran: PostgreSQL text refuses NUL
    broken = wards.copy()
    broken.loc[broken.index[30], "name"] = "Phường\x00Lỗi"
    with pytest.raises(psycopg.DataError):
        areas.replace_wards(conn, broken, "thanh-hoa")
    conn.rollback()
    assert conn.execute("SELECT id, geometry FROM wards ORDER BY id").fetchall() == before
    assert areas.area_version(conn) == version
    assert _cams(conn)["cam-ham-rong"][0] == "th-ham-rong"


def test_geofences_survive_zone_import(conn):
    _, zones = load_shipped("phu-quoc")
    conn.execute("INSERT INTO zones (id, name, kind, geometry) VALUES ('gf-1', 'Rào', "
                 "'geofence', %s)", (json.dumps(zones.iloc[0].geometry.__geo_interface__),))
    areas.replace_zones(conn, zones, "phu-quoc")
    areas.replace_zones(conn, zones, "phu-quoc")
    conn.commit()
    ids = {r[0] for r in conn.execute("SELECT id FROM zones").fetchall()}
    assert "gf-1" in ids and len(ids) == 8


def test_import_file_then_replace(conn, tmp_path):
    wards, _ = load_shipped("thanh-hoa")
    path = tmp_path / "official.gpkg"
    wards[["id", "name", "geometry"]].to_crs(3405).to_file(path, driver="GPKG")
    layer = read_layer(path, "wards", province="thanh-hoa")
    res = areas.replace_wards(conn, layer, "thanh-hoa")
    conn.commit()
    assert res.inserted == 47
    row = conn.execute("SELECT approximate, properties FROM wards WHERE id = 'th-ham-rong'"
                       ).fetchone()
    assert row[0] is False and row[1]["source_file"] == "official.gpkg"


def test_incident_points_and_watched_hours(conn):
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO events (ts, camera_id, kind, lon, lat, ward_id, cell_id) "
            "VALUES (%s, 'c1', %s, 105.78, 19.80, 'th-lam-son', 42)",
            [(t0 + timedelta(minutes=i), k) for i, k in
             enumerate(["fight", "person_count", "intrusion"])])
        cur.executemany(
            "INSERT INTO camera_heartbeats (camera_id, ts, status) VALUES ('c1', %s, %s)",
            [(t0 + timedelta(minutes=m), s) for m, s in
             [(0, "online"), (1, "online"), (2, "offline"), (10, "online")]])
    conn.commit()
    pts = areas.incident_points(conn, t0, t0 + timedelta(hours=1))
    assert pts["kind"].tolist() == ["fight", "intrusion"]
    assert pts["cell_id"].tolist() == [42, 42]
    assert len(areas.incident_points(conn, t0, t0 + timedelta(hours=1), kinds=["fight"],
                                     ward_id="th-lam-son")["ts"]) == 1
    hours = areas.watched_hours(conn, t0, t0 + timedelta(hours=1))
    # online 0–1, 1–2, and 10–15 (5-minute cap): 7 minutes
    assert hours["c1"] == pytest.approx(7 / 60)
