"""The planners' hotspot report: one standalone HTML file (folium) that opens with no network.

folium's pages load Leaflet, jQuery, Bootstrap and Font Awesome from CDNs, which a
command-centre network cannot reach. :func:`offline_html` therefore inlines the copies
bundled in ``gis/data/vendor`` (Leaflet 1.9.4, leaflet.heat 0.2.0; images as data: URIs)
and drops the assets this report does not use (jQuery, Bootstrap, awesome-markers: no
icon markers and no HTML popups are drawn). Nothing in the result refers to http(s).
There is no tile layer (no tiles offline); the ward polygons and province outline are
the base map. folium is imported here only.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Callable, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.plugins import HeatMap

from gis import grid
from gis.coverage import coverage_union
from gis.hotspots import HotspotResult

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]

#: CDN assets folium emits, by file name → bundled file (None: not needed, dropped).
_BUNDLED = {
    "leaflet.js": "leaflet.js",
    "leaflet.css": "leaflet.css",
    "leaflet_heat.min.js": "leaflet-heat.js",
    "leaflet-heat.js": "leaflet-heat.js",
}
_ASSET = re.compile(
    r'<script[^>]*\bsrc="(?P<js>https?://[^"]+)"[^>]*>\s*</script>'
    r'|<link[^>]*\bhref="(?P<css>https?://[^"]+)"[^>]*/?>')

CATEGORY_COLOURS = {"hot-99": "#b2182b", "hot-95": "#ef8a62", "hot-90": "#fddbc7",
                    "cold-90": "#d1e5f0", "cold-95": "#67a9cf", "cold-99": "#2166ac"}
CATEGORY_LABELS = {"hot-99": "Điểm nóng 99% / hotspot 99%", "hot-95": "Điểm nóng 95%",
                   "hot-90": "Điểm nóng 90%", "cold-90": "Điểm lạnh 90%",
                   "cold-95": "Điểm lạnh 95%", "cold-99": "Điểm lạnh 99% / coldspot"}
_WEEKDAYS = ["T2", "T3", "T4", "T5", "T6", "T7", "CN"]


def _vendor(name: str) -> bytes:
    return (resources.files("gis") / "data" / "vendor" / name).read_bytes()


def _leaflet_css() -> str:
    css = _vendor("leaflet.css").decode("utf-8")
    for img in ("layers-2x.png", "layers.png"):
        uri = "data:image/png;base64," + base64.b64encode(_vendor(img)).decode("ascii")
        css = css.replace(f"url(images/{img})", f"url({uri})")
    return css


def offline_html(page: str) -> str:
    """Inline bundled copies of folium's CDN assets and drop the unused ones."""
    def swap(m: re.Match) -> str:
        url = m.group("js") or m.group("css")
        name = url.rsplit("/", 1)[-1].split("?")[0]
        local = _BUNDLED.get(name)
        if local is None:
            log.debug("dropping unused CDN asset %s", url)
            return ""
        if local.endswith(".css"):
            return f"<style>\n{_leaflet_css()}\n</style>"
        js = _vendor(local).decode("utf-8").replace("</script", "<\\/script")
        return f"<script>\n{js}\n</script>"
    out = _ASSET.sub(swap, page)
    # anything that would LOAD from the network (an <a href> to a web page is only a link)
    left = re.findall(r'\bsrc="(https?://[^"]+)"|<link[^>]*\bhref="(https?://[^"]+)"'
                      r'|url\(["\']?(https?://[^)"\']+)', out)
    if left:
        raise RuntimeError(f"report would load from the network: {left[:3]}")
    return out


def _fmt(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def top_table(result: HotspotResult, wards: gpd.GeoDataFrame, top_n: int = 20) -> pd.DataFrame:
    """The top-N cells by Gi* z (ties by count), with their ward: the report's table and CSV."""
    cells = result.cells.dropna(subset=["z"]).head(top_n).copy()
    if len(cells) and len(wards):
        from gis.tagging import AreaIndex
        w, _ = AreaIndex.from_frames(wards).tag(cells["lon"].to_numpy(), cells["lat"].to_numpy())
        names = wards.set_index("id")["name"]
        cells["ward_id"] = w
        cells["ward_name"] = [names.get(x, "") if x else "" for x in w]
    else:
        cells["ward_id"] = None
        cells["ward_name"] = ""
    cells.insert(0, "rank", np.arange(1, len(cells) + 1))
    cols = ["rank", "cell_id", "ward_id", "ward_name", "lon", "lat", "n", "exposure_h", "rate",
            "z", "p", "q", "category"]
    return cells[cols].reset_index(drop=True)


def _table_html(df: pd.DataFrame) -> str:
    head = ("<tr><th>#</th><th>Ô lưới / cell</th><th>Phường / ward</th><th>Vị trí</th>"
            "<th>Sự việc</th><th>Giờ quan sát</th><th>Sự việc/giờ</th><th>z (Gi*)</th>"
            "<th>p</th><th>q (BH)</th><th>Mức</th></tr>")
    rows = []
    for r in df.itertuples(index=False):
        colour = CATEGORY_COLOURS.get(r.category, "#fff")
        rows.append(
            f"<tr><td>{r.rank}</td><td>{r.cell_id}</td><td>{_fmt(r.ward_name)}</td>"
            f"<td>{r.lat:.5f}, {r.lon:.5f}</td><td>{r.n}</td><td>{_fmt(r.exposure_h, 1)}</td>"
            f"<td>{_fmt(r.rate, 3)}</td><td>{_fmt(r.z)}</td><td>{_fmt(r.p, 4)}</td>"
            f"<td>{_fmt(r.q, 4)}</td><td style='background:{colour}'>{_fmt(r.category)}</td></tr>")
    return f"<table id='top-table' class='vigil'>{head}{''.join(rows)}</table>"


def _profile_html(profile: np.ndarray) -> str:
    peak = max(int(profile.max()), 1)
    head = "<tr><th></th>" + "".join(f"<th>{h}</th>" for h in range(24)) + "</tr>"
    rows = []
    for d, day in enumerate(_WEEKDAYS):
        cells = "".join(
            f"<td style='background:rgba(178,24,43,{v / peak:.2f})'>{v or ''}</td>"
            for v in profile[d].tolist())
        rows.append(f"<tr><th>{day}</th>{cells}</tr>")
    return f"<table id='profile' class='vigil profile'>{head}{''.join(rows)}</table>"


def _header_html(result: HotspotResult, title: str, filters: str, n_cams: int) -> str:
    hot = int(result.cells["category"].astype(str).str.startswith("hot").sum())
    assumed = (f"<p class='note'>{len(result.assumed_full_time)} camera không có nhịp tim "
               "(heartbeat) trong kỳ: coi như quan sát cả kỳ / cameras without heartbeats are "
               "assumed to have watched the whole period.</p>") if result.assumed_full_time else ""
    return f"""
<header class="vigil">
  <h1>{html.escape(title)}</h1>
  <p>Kỳ / period: <b>{result.since:%Y-%m-%d %H:%M}</b> → <b>{result.until:%Y-%m-%d %H:%M}</b>
     (UTC) · {html.escape(filters)} · {result.n_incidents} sự việc / incidents ·
     {n_cams} camera · <b id="hot-count">{hot}</b> ô điểm nóng / hotspot cells</p>
  <p class="note">Tỷ lệ = sự việc trên mỗi giờ camera thực sự quan sát (Getis-Ord Gi*, ô
     {grid.CELL_SIZE_M} m, láng giềng 3×3) / rate = incidents per watched camera-hour.
     {result.n_unwatched} sự việc nằm ngoài vùng quan sát / outside watched cells.</p>
  <p class="note approx">Ranh giới phường là <b>XẤP XỈ</b> (Voronoi từ tâm phường) trừ khi đã
     nhập dữ liệu chính thức / ward boundaries are APPROXIMATE unless official data was
     imported.</p>
  {assumed}
</header>"""


_STYLE = """<style>
body { font-family: "Noto Sans", "DejaVu Sans", sans-serif; margin: 0; }
header.vigil, section.vigil { padding: 0.5em 1em; }
header.vigil h1 { font-size: 1.4em; margin: 0.2em 0; }
.note { color: #444; font-size: 0.9em; margin: 0.2em 0; }
.approx { color: #8a4b00; }
table.vigil { border-collapse: collapse; font-size: 0.85em; }
table.vigil td, table.vigil th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
table.profile td { min-width: 1.6em; }
.legend { background: white; padding: 6px 8px; font-size: 12px; line-height: 1.5; }
.legend i { display: inline-block; width: 14px; height: 14px; margin-right: 4px; }
</style>"""


def _legend_html(has_rate: bool) -> str:
    items = "".join(f"<div><i style='background:{c}'></i>{CATEGORY_LABELS[k]}</div>"
                    for k, c in CATEGORY_COLOURS.items())
    return f"""
<div id="vigil-legend" class="legend leaflet-control" style="position:absolute; bottom:24px;
  right:10px; z-index:1000;">
  <b>Chú giải / legend</b>{items}
  <div><i style='background:#3182bd; opacity:.35'></i>Vùng camera thấy / camera coverage</div>
  <div><i style='border:2px dashed #555'></i>Phường — ranh giới XẤP XỈ / wards — approximate
  {'(màu: sự việc/giờ quan sát)' if has_rate else ''}</div>
</div>"""


def build_report(result: HotspotResult, wards: gpd.GeoDataFrame, fovs: Sequence,
                 incidents: dict[str, np.ndarray], *, zones: gpd.GeoDataFrame | None = None,
                 title: str = "Báo cáo điểm nóng / Hotspot report", filters: str = "",
                 top_n: int = 20, progress: Progress | None = None
                 ) -> tuple[str, pd.DataFrame]:
    """The report's HTML (offline) and its top-N table."""
    step = progress or (lambda _m, _f: None)
    lon, lat = np.asarray(incidents["lon"], float), np.asarray(incidents["lat"], float)
    if len(wards):
        minx, miny, maxx, maxy = wards.total_bounds
    elif len(lon):
        minx, miny, maxx, maxy = lon.min(), lat.min(), lon.max(), lat.max()
    else:
        minx, miny, maxx, maxy = 102.0, 8.5, 110.0, 23.5
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=12,
                   tiles=None, height="70vh", control_scale=True)
    m.fit_bounds([[miny, minx], [maxy, maxx]])

    step("ward choropleth", 0.1)
    ward_rates = result.wards.set_index("ward_id") if len(result.wards) else pd.DataFrame()
    if len(wards):
        wmax = float(np.nanmax(ward_rates["rate"])) if len(ward_rates) and \
            np.isfinite(ward_rates["rate"]).any() else 0.0
        feats = []
        for rec in wards.itertuples(index=False):
            r = ward_rates.loc[rec.id] if rec.id in ward_rates.index else None
            rate = float(r["rate"]) if r is not None and np.isfinite(r["rate"]) else None
            feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(rec.geometry),
                          "properties": {
                              "name": rec.name, "id": rec.id,
                              "n": int(r["n"]) if r is not None else 0,
                              "rate": round(rate, 4) if rate is not None else None,
                              "z": round(float(r["z"]), 2) if r is not None and
                              np.isfinite(r["z"]) else None,
                              "fill": min(rate / wmax, 1.0) if rate and wmax > 0 else 0.0,
                              "approximate": "xấp xỉ / approximate" if rec.approximate
                              else "chính thức / official"}})
        folium.GeoJson(
            {"type": "FeatureCollection", "features": feats},
            name="Phường (xấp xỉ) / wards (approximate)",
            style_function=lambda f: {"color": "#555", "weight": 1, "dashArray": "4 3",
                                      "fillColor": "#e6550d",
                                      "fillOpacity": 0.05 + 0.55 * f["properties"]["fill"]},
            tooltip=folium.GeoJsonTooltip(["name", "n", "rate", "z", "approximate"],
                                          aliases=["Phường", "Sự việc", "Sự việc/giờ", "Gi* z",
                                                   "Ranh giới"]),
        ).add_to(m)

    step("coverage", 0.3)
    if fovs:
        cov = coverage_union(list(fovs))
        folium.GeoJson(shapely.geometry.mapping(cov), name="Vùng camera thấy / coverage",
                       style_function=lambda f: {"color": "#3182bd", "weight": 0.5,
                                                 "fillColor": "#3182bd", "fillOpacity": 0.3},
                       ).add_to(m)

    if zones is not None and len(zones):
        folium.GeoJson(
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": shapely.geometry.mapping(z.geometry),
                 "properties": {"name": z.name, "kind": z.kind}}
                for z in zones.itertuples(index=False)]},
            name="Khu vực trọng điểm / zones", show=False,
            style_function=lambda f: {"color": "#6a3d9a", "weight": 2, "fillOpacity": 0.05},
            tooltip=folium.GeoJsonTooltip(["name", "kind"], aliases=["Khu vực", "Loại"]),
        ).add_to(m)

    step("incident heatmap", 0.5)
    if len(lon):
        pts = np.column_stack([lat, lon])
        HeatMap(pts.round(6).tolist(), name="Mật độ sự việc / incident heatmap", radius=14,
                blur=18, min_opacity=0.3).add_to(m)

    step("hotspot cells", 0.7)
    sig = result.cells[result.cells["category"].isin(list(CATEGORY_COLOURS))]
    if len(sig):
        polys = grid.cell_polygons(sig["cell_id"].to_numpy(dtype=np.int64))
        feats = [{"type": "Feature", "geometry": shapely.geometry.mapping(poly),
                  "properties": {"category": c, "n": int(n), "z": round(float(z), 2),
                                 "p": float(f"{pv:.3g}"), "colour": CATEGORY_COLOURS[c]}}
                 for poly, c, n, z, pv in zip(polys, sig["category"], sig["n"], sig["z"],
                                              sig["p"])]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": feats},
            name="Điểm nóng (Gi*) / significant hotspots",
            style_function=lambda f: {"color": f["properties"]["colour"], "weight": 1,
                                      "fillColor": f["properties"]["colour"],
                                      "fillOpacity": 0.7},
            tooltip=folium.GeoJsonTooltip(["category", "n", "z", "p"],
                                          aliases=["Mức", "Sự việc", "z", "p"]),
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.get_root().html.add_child(folium.Element(_legend_html(len(ward_rates) > 0)))

    step("tables", 0.85)
    table = top_table(result, wards, top_n)
    body = (_header_html(result, title, filters or "tất cả / all", len(fovs)))
    tail = (f"<section class='vigil'><h2>Top {len(table)} ô điểm nóng / top cells</h2>"
            f"{_table_html(table)}</section>"
            f"<section class='vigil'><h2>Theo giờ trong tuần (giờ Việt Nam) / "
            f"time of day × day of week</h2>{_profile_html(result.profile)}</section>")
    page = m.get_root().render()
    page = page.replace("</head>", _STYLE + "</head>", 1)
    page = page.replace("<body>", "<body>" + body, 1)
    page = page.replace("</body>", tail + "</body>", 1)
    step("offline bundle", 0.95)
    page = offline_html(page)
    step("report ready", 1.0)
    return page, table


def write_report(path: str | Path, page: str, table: pd.DataFrame) -> tuple[Path, Path]:
    """Write the HTML and the CSV of its table beside it (same stem, .csv)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    csv = path.with_suffix(".csv")
    table.to_csv(csv, index=False, encoding="utf-8-sig")  # BOM: Excel reads Vietnamese
    return path, csv
