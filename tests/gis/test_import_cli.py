"""``vigil gis import`` on a real database: the plan first, --replace to remove areas,
--dry-run, repaired and refused polygons named, cameras re-tagged, events left as history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import shapely
from click.testing import CliRunner
from shapely import Polygon

from gis.boundaries import load_shipped
from store import areas
from webapp.gis_cli import gis_group

BOWTIE = Polygon([(103.96, 10.21), (103.98, 10.23), (103.98, 10.21), (103.96, 10.23)])
# a square with a tiny bow-tie loop on its western edge: repairs to nearly the same area
LOOPED = Polygon([(103.96, 10.21), (103.98, 10.21), (103.98, 10.23), (103.96, 10.23),
                  (103.96, 10.2202), (103.9601, 10.2198), (103.9601, 10.2202),
                  (103.96, 10.2198)])


def _fc(features):
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
        for p, g in features]}


def _gis(settings, *args):
    return CliRunner().invoke(gis_group, list(args), obj=settings)


def _phu_quoc(conn):
    """The nine shipped wards of Phú Quốc, one camera in each, an event tagged in each."""
    wards, zones = load_shipped("phu-quoc")
    areas.replace_wards(conn, wards, "phu-quoc")
    areas.replace_zones(conn, zones, "phu-quoc")
    points = [w.representative_point() for w in wards.geometry]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO cameras (id, name, lon, lat) VALUES (%s, %s, %s, %s)",
                        [(f"cam-{i}", f"Camera {w}", p.x, p.y)
                         for i, (w, p) in enumerate(zip(wards["id"], points))])
        ts = datetime.now(timezone.utc) - timedelta(minutes=5)
        cur.executemany("INSERT INTO events (ts, camera_id, kind, lon, lat, ward_id) "
                        "VALUES (%s, %s, 'intrusion', %s, %s, %s)",
                        [(ts, f"cam-{i}", p.x, p.y, w)
                         for i, (w, p) in enumerate(zip(wards["id"], points))])
    areas.retag_cameras(conn)
    conn.commit()
    return wards


def _state(conn):
    return (conn.execute("SELECT id, name, geometry FROM wards ORDER BY id").fetchall(),
            conn.execute("SELECT id, ward_id FROM cameras ORDER BY id").fetchall(),
            areas.area_version(conn))


def test_bowtie_is_refused_by_name_and_nothing_changes(settings, conn, tmp_path):
    _phu_quoc(conn)
    before = _state(conn)
    path = tmp_path / "bowtie.geojson"
    path.write_text(json.dumps(_fc([({"name": "Nơ"}, BOWTIE)])))
    res = _gis(settings, "import", "wards", str(path), "--province", "phu-quoc")
    assert res.exit_code != 0
    assert "'Nơ'" in res.output and "invalid polygon" in res.output
    assert "area by 100%" in res.output and "Traceback" not in res.output
    assert _state(conn) == before


def test_partial_file_shows_the_plan_and_needs_replace(settings, conn, tmp_path):
    wards = _phu_quoc(conn)
    before = _state(conn)
    one = wards.iloc[[0]]
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(_fc([({"name": one.iloc[0]["name"], "id": one.iloc[0]["id"]},
                                     one.geometry.iloc[0])])))
    first = wards.iloc[0]
    for extra in ([], ["--dry-run"], ["--replace", "--dry-run"]):
        res = _gis(settings, "import", "wards", str(path), "--province", "phu-quoc", *extra)
        assert "removed (8):" in res.output, res.output
        assert "cameras that would lose their ward (8):" in res.output
        assert f"Camera {wards.iloc[1]['id']} (cam-1): {wards.iloc[1]['name']}" in res.output
        assert "unchanged: 1" in res.output
        assert "past events tagged with a removed or re-drawn ward: 8" in res.output
        assert _state(conn) == before
        if extra:
            assert res.exit_code == 0 and "dry run: nothing written" in res.output
        else:
            assert res.exit_code != 0 and "--replace" in res.output
            assert "Nothing was written" in res.output
    res = _gis(settings, "import", "wards", str(path), "--province", "phu-quoc", "--replace")
    assert res.exit_code == 0, res.output
    assert "8 cameras re-tagged; 8 past events keep their old ward" in res.output
    assert [r[0] for r in conn.execute("SELECT id FROM wards").fetchall()] == [first["id"]]
    cams = dict(conn.execute("SELECT id, ward_id FROM cameras").fetchall())
    assert list(cams.values()).count(None) == 8 and cams["cam-0"] == first["id"]
    # events are history: their tags stay as written
    tags = sorted(r[0] for r in conn.execute("SELECT ward_id FROM events").fetchall())
    assert tags == sorted(wards["id"])


def test_redrawn_ward_moves_cameras_and_repair_is_named(settings, conn, tmp_path):
    wards = _phu_quoc(conn)
    grown = wards.copy()
    # a disk around ward 1's camera moves to ward 0: that camera changes ward
    g0, g1 = grown.geometry.iloc[0], grown.geometry.iloc[1]
    disk = g1.representative_point().buffer(0.001)
    grown.loc[grown.index[0], "geometry"] = g0.union(disk)
    grown.loc[grown.index[1], "geometry"] = g1.difference(disk)
    doc = _fc([({"id": r.id, "name": r.name}, r.geometry)
               for r in grown.itertuples(index=False)])
    path = tmp_path / "grown.geojson"
    path.write_text(json.dumps(doc))
    res = _gis(settings, "import", "wards", str(path), "--province", "phu-quoc")
    assert res.exit_code == 0, res.output
    assert "boundary changed (2):" in res.output and "unchanged: 7" in res.output
    assert "cameras that would change ward (1):" in res.output
    assert (f"Camera {wards.iloc[1]['id']} (cam-1): {wards.iloc[1]['name']} "
            f"({wards.iloc[1]['id']}) → {wards.iloc[0]['name']} ({wards.iloc[0]['id']})"
            in res.output)
    assert "2 past events keep their old ward" in res.output
    assert conn.execute("SELECT ward_id FROM cameras WHERE id = 'cam-1'").fetchone()[0] \
        == wards.iloc[0]["id"]
    # a zone with a tiny self-intersection is repaired, and the import says so by name
    zpath = tmp_path / "zones.geojson"
    zpath.write_text(json.dumps(_fc([({"name": "Chợ mới", "id": "pq-new-market",
                                       "kind": "market"}, LOOPED)])))
    res = _gis(settings, "import", "zones", str(zpath), "--province", "phu-quoc", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "zone 'Chợ mới' (pq-new-market) was an invalid polygon, repaired: " \
           "Self-intersection" in res.output
    assert "added (1): Chợ mới (pq-new-market)" in res.output
    assert "removed (7):" in res.output and "dry run" in res.output
    res = _gis(settings, "import", "zones", str(zpath), "--province", "phu-quoc")
    assert res.exit_code != 0 and "lacks 7 of the zones of phu-quoc" in res.output
    assert "--replace" in res.output
    assert conn.execute("SELECT count(*) FROM zones").fetchone()[0] == 7
    res = _gis(settings, "import", "zones", str(zpath), "--province", "phu-quoc", "--replace")
    assert res.exit_code == 0, res.output
    assert [r[0] for r in conn.execute("SELECT id FROM zones").fetchall()] == ["pq-new-market"]
    props = conn.execute("SELECT properties FROM zones").fetchone()[0]
    assert props["repaired"] is True and props["repair"].startswith("Self-intersection")


def test_own_api_output_imports(settings, conn, tmp_path):
    """vigil's own /api/v1/wards output (array-valued properties) imports unchanged."""
    _phu_quoc(conn)
    fc = areas.wards_geojson(conn, "phu-quoc")
    for f in fc["features"]:
        f["properties"].update(in_scope=True, tags=["a", "b"], counts=[1, 2],
                               meta={"k": [1.5, None]})
    path = tmp_path / "api.geojson"
    path.write_text(json.dumps(fc))
    res = _gis(settings, "import", "wards", str(path), "--province", "phu-quoc")
    assert res.exit_code == 0, res.output
    assert "unchanged: 9" in res.output and "cameras that" not in res.output
    props = conn.execute("SELECT properties FROM wards ORDER BY id LIMIT 1").fetchone()[0]
    assert props["tags"] == ["a", "b"] and props["counts"] == [1, 2]
    assert props["meta"] == {"k": [1.5, None]}


def test_file_without_ids_keeps_the_stored_ids(settings, conn, tmp_path):
    """An official file with names only re-draws the stored wards; ids (held by users'
    scopes and by events) stay, instead of nine removed and nine added."""
    wards = _phu_quoc(conn)
    path = tmp_path / "names.geojson"
    path.write_text(json.dumps(_fc([({"ten": r.name}, r.geometry)
                                    for r in wards.itertuples(index=False)])))
    res = _gis(settings, "import", "wards", str(path), "--province", "phu-quoc")
    assert res.exit_code == 0, res.output
    assert "unchanged: 9" in res.output and "removed" not in res.output
    assert sorted(r[0] for r in conn.execute("SELECT id FROM wards").fetchall()) == \
        sorted(wards["id"])
