"""Ward and zone layers: the shipped approximations and official files a province imports.

Both come out in one shape, ready for ``store.areas.replace_wards/replace_zones``:

* wards: GeoDataFrame (EPSG:4326) with ``id``, ``name``, ``province``, ``approximate``,
  ``properties`` (dict), ``geometry`` (Polygon/MultiPolygon), plus ``central`` (bool).
* zones: ``id``, ``name``, ``kind``, ``ward_id`` (may be None), ``approximate``,
  ``properties``, ``geometry``.

:func:`read_layer` reads GeoJSON, Shapefile or GeoPackage from any CRS (VN-2000 zones
such as EPSG:3405, UTM 48N EPSG:32648, WGS84) and refuses, naming the feature, what would
corrupt the map: unreadable files, empty or duplicate names, empty geometries,
polygons that cannot be repaired or whose repair would change the area drawn (a bow-tie),
coordinates outside Vietnam. A repaired feature is marked ``properties.repair`` (what was
wrong, how much the area changed) so that the import can name it.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

PROVINCES = ("phu-quoc", "thanh-hoa")
LAYER_KINDS = ("wards", "zones")
ZONE_KINDS = ("port", "airport", "market", "square", "casino", "tourist_area",
              "critical_site", "geofence")

#: Columns tried, in order, for a feature's name / id / zone kind in imported files.
NAME_FIELDS = ("name", "ten", "ten_xa", "ten_phuong", "tenxa", "NAME_3", "NAME", "Name", "TEN")
ID_FIELDS = ("id", "ma", "ma_xa", "code", "ID", "MA")
KIND_FIELDS = ("kind", "loai", "type")

WARD_COLUMNS = ["id", "name", "province", "approximate", "central", "properties", "geometry"]
ZONE_COLUMNS = ["id", "name", "kind", "ward_id", "approximate", "properties", "geometry"]

#: An invalid polygon is repaired (``shapely.make_valid``) only when that changes its area as
#: drawn by at most this fraction; a repaired feature carries ``properties.repair``.
MAX_REPAIR_AREA_CHANGE = 0.05


class LayerError(ValueError):
    """A layer file vigil refuses to import; the message names the file and the feature."""


def _data_file(name: str) -> Path:
    return Path(str(resources.files("gis") / "data" / name))


def slug(text: str) -> str:
    """ASCII slug of a Vietnamese name: 'Phường Dương Đông' → 'duong-dong'."""
    for prefix in ("Phường ", "Xã ", "Thị trấn "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.replace("Đ", "D").replace("đ", "d")
    text = unicodedata.normalize("NFD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


@lru_cache(maxsize=1)
def vietnam_outline() -> BaseGeometry:
    """Vietnam's land outline with a 25 km sea margin (Natural Earth, generous on purpose)."""
    doc = json.loads(_data_file("vietnam.geojson").read_text(encoding="utf-8"))
    geom = shapely.geometry.shape(doc["features"][0]["geometry"])
    shapely.prepare(geom)
    return geom


def _json_safe(value: Any) -> Any:
    """A property value as JSON: numpy arrays and scalars, dates and nested lists/dicts too
    (vigil's own ``/api/v1/wards`` output and GeoPackage list fields carry arrays)."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return None if pd.isna(value) else value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray)
                                        else value)]
    if hasattr(value, "item"):  # numpy scalars
        return _json_safe(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def load_shipped(province: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The shipped (approximate) wards and zones of ``province`` ('phu-quoc' or 'thanh-hoa')."""
    if province not in PROVINCES:
        raise ValueError(f"province must be one of {PROVINCES}, got {province!r}")
    wards = _shipped(f"{province}-wards.geojson", "wards")
    zones = _shipped(f"{province}-zones.geojson", "zones")
    return wards, zones


def _shipped(filename: str, kind: str) -> gpd.GeoDataFrame:
    doc = json.loads(_data_file(filename).read_text(encoding="utf-8"))
    rows = []
    for feat in doc["features"]:
        props = dict(feat["properties"])
        row = {"id": props.pop("id"), "name": props.pop("name"),
               "approximate": bool(props.pop("approximate", True)),
               "geometry": shapely.geometry.shape(feat["geometry"])}
        if kind == "wards":
            row["province"] = props.pop("province")
            row["central"] = bool(props.get("central", False))
        else:
            row["kind"] = props.pop("kind")
            row["ward_id"] = props.pop("ward_id", None)
            props.pop("province", None)
        row["properties"] = props
        rows.append(row)
    cols = WARD_COLUMNS if kind == "wards" else ZONE_COLUMNS
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=4326)


# -- import of official files -------------------------------------------------------------

def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
          path: Path, required: bool) -> str | None:
    if wanted:
        if wanted not in columns:
            raise LayerError(f"{path}: no column {wanted!r} for the {what} "
                             f"(columns: {', '.join(columns)})")
        return wanted
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if cand.lower() in lower:
            return lower[cand.lower()]
    if required:
        raise LayerError(f"{path}: no {what} column (tried {', '.join(candidates)}; "
                         f"columns: {', '.join(columns)}); name one explicitly")
    return None


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, (Polygon, MultiPolygon))]
    parts = [q for p in parts for q in shapely.get_parts(p) if not q.is_empty and q.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _repaired(geom: BaseGeometry, label: str) -> tuple[BaseGeometry, str]:
    """An invalid polygon made valid, and what was done; LayerError when the repair would
    change the area as drawn by more than :data:`MAX_REPAIR_AREA_CHANGE` (a bow-tie's
    two halves cancel as drawn, so "repairing" it invents an area nobody drew)."""
    reason = shapely.is_valid_reason(geom)
    fixed = _polygonal(shapely.make_valid(geom))
    if fixed is None:
        raise LayerError(f"{label}: invalid geometry that cannot be repaired ({reason})")
    drawn, area = abs(shapely.area(geom)), fixed.area
    change = abs(area - drawn) / max(area, drawn)
    if change > MAX_REPAIR_AREA_CHANGE:
        raise LayerError(f"{label}: invalid polygon ({reason}); repairing it would change "
                         f"its area by {change:.0%} of what was drawn, so it is refused: "
                         "fix the polygon in the GIS tool and export again")
    note = f"{reason}; area changed by {change:.2%}"
    log.warning("%s: repaired invalid geometry (%s)", label, note)
    return fixed, note


def _read(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise LayerError(f"{path}: no such file")
    try:
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError and friends
        raise LayerError(f"{path}: cannot read as GeoJSON, Shapefile or GeoPackage: "
                         f"{exc}") from None


def _to_wgs84(gdf: gpd.GeoDataFrame, path: Path, crs: str | int | None) -> gpd.GeoDataFrame:
    if crs is not None:
        try:
            source = CRS.from_user_input(crs)
        except Exception as exc:
            raise LayerError(f"{path}: unknown CRS {crs!r}: {exc}") from None
        gdf = gdf.set_crs(source, allow_override=True)
    elif gdf.crs is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise LayerError(f"{path}: the file has no CRS and its coordinates are not "
                             f"degrees (bounds {gdf.total_bounds.round(1).tolist()}); "
                             "give the CRS (e.g. EPSG:3405 for VN-2000 / UTM 48N)")
        log.warning("%s has no CRS; assuming EPSG:4326 (lon/lat)", path)
        gdf = gdf.set_crs(4326)
    minx, miny, maxx, maxy = gdf.total_bounds
    if gdf.crs.is_geographic and not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        # typically a GeoJSON in metres without a "crs" member (GeoJSON implies WGS84)
        raise LayerError(f"{path}: the CRS says degrees ({gdf.crs.to_string()}) but the "
                         f"coordinates are not degrees (bounds "
                         f"{gdf.total_bounds.round(1).tolist()}); give the real CRS "
                         "(e.g. EPSG:3405 for VN-2000 / UTM 48N)")
    try:
        return gdf.to_crs(4326)
    except Exception as exc:
        raise LayerError(f"{path}: cannot reproject from {gdf.crs} to EPSG:4326: {exc}") from None


def read_layer(path: str | Path, kind: str, *, province: str | None = None,
               name_field: str | None = None, id_field: str | None = None,
               crs: str | int | None = None) -> gpd.GeoDataFrame:
    """Read and check an official wards or zones file; LayerError naming the bad feature.

    ``crs`` overrides (or supplies) the file's CRS. Ward ids default to a slug of the
    name; wards need a ``province`` (argument or column), zones a ``kind`` column.
    """
    if kind not in LAYER_KINDS:
        raise ValueError(f"kind must be one of {LAYER_KINDS}, got {kind!r}")
    path = Path(path)
    gdf = _read(path)
    if len(gdf) == 0:
        raise LayerError(f"{path}: the layer has no features")
    gdf = _to_wgs84(gdf, path, crs)
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    name_col = _pick(columns, name_field, NAME_FIELDS, "name", path, True)
    id_col = _pick(columns, id_field, ID_FIELDS, "id", path, False)
    kind_col = _pick(columns, None, KIND_FIELDS, "zone kind", path, kind == "zones")
    prov_col = "province" if "province" in columns else None
    if kind == "wards" and province is None and prov_col is None:
        raise LayerError(f"{path}: wards need a province (a 'province' column or --province)")
    vietnam = vietnam_outline()
    rows, seen_names, seen_ids = [], {}, {}
    for i, rec in enumerate(gdf.itertuples(index=False)):
        values = rec._asdict()
        raw_name = values.get(name_col)
        name = "" if raw_name is None or (isinstance(raw_name, float) and pd.isna(raw_name)) \
            else str(raw_name).strip()
        label = f"{path}: feature #{i}" + (f" ({name!r})" if name else "")
        if not name:
            raise LayerError(f"{label}: empty name in column {name_col!r}")
        if name in seen_names:
            raise LayerError(f"{label}: duplicate name, also feature #{seen_names[name]}")
        seen_names[name] = i
        ident = str(values[id_col]).strip() if id_col and values.get(id_col) is not None \
            else slug(name)
        if not ident:
            raise LayerError(f"{label}: empty id")
        if ident in seen_ids:
            raise LayerError(f"{label}: duplicate id {ident!r}, also feature #{seen_ids[ident]}")
        seen_ids[ident] = i
        geom = values.get("geometry")
        if geom is None or geom.is_empty:
            raise LayerError(f"{label}: empty geometry")
        repair = None
        if not geom.is_valid:
            geom, repair = _repaired(geom, label)
        else:
            geom = _polygonal(geom)
            if geom is None:
                raise LayerError(f"{label}: not a polygon ({values['geometry'].geom_type}); "
                                 "wards and zones must be areas")
        if not geom.within(vietnam):
            c = geom.representative_point()
            raise LayerError(f"{label}: lies outside Vietnam (near lon={c.x:.4f}, "
                             f"lat={c.y:.4f}); wrong CRS?")
        props = {k: _json_safe(v) for k, v in values.items()
                 if k not in ("geometry", name_col, id_col, kind_col, prov_col)}
        if repair:
            props["repaired"], props["repair"] = True, repair
        props["source_file"] = path.name
        row = {"id": ident, "name": name, "properties": props, "geometry": geom,
               "approximate": bool(values.get("approximate", False) or False)}
        if kind == "wards":
            row["province"] = province or str(values[prov_col])
            row["central"] = bool(props.get("central", False))
        else:
            zkind = str(values.get(kind_col) or "").strip()
            if zkind not in ZONE_KINDS:
                raise LayerError(f"{label}: zone kind {zkind!r} is not one of "
                                 f"{', '.join(ZONE_KINDS)}")
            row["kind"] = zkind
            row["ward_id"] = values.get("ward_id") or None
        rows.append(row)
    cols = WARD_COLUMNS if kind == "wards" else ZONE_COLUMNS
    return gpd.GeoDataFrame(rows, columns=cols, geometry="geometry", crs=4326)


def to_feature_collection(gdf: gpd.GeoDataFrame) -> dict:
    """A layer frame as a GeoJSON FeatureCollection dict (properties flattened)."""
    feats = []
    for rec in gdf.to_crs(4326).itertuples(index=False):
        values = rec._asdict()
        geom = values.pop("geometry")
        props = dict(values.pop("properties", None) or {})
        props.update({k: _json_safe(v) for k, v in values.items()})
        feats.append({"type": "Feature", "id": props.get("id"), "properties": props,
                      "geometry": shapely.geometry.mapping(geom)})
    return {"type": "FeatureCollection", "features": feats}
