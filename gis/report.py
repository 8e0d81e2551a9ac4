"""The planners' hotspot report: one standalone HTML file (folium) that opens with no network.

folium's pages load Leaflet, jQuery, Bootstrap and Font Awesome from CDNs, which a
command-centre network cannot reach. :func:`offline_html` therefore inlines the copies
bundled in ``gis/data/vendor`` (Leaflet 1.9.4, leaflet.heat 0.2.0; images as data: URIs)
and drops the assets this report does not use (jQuery, Bootstrap, awesome-markers: no
icon markers and no HTML popups are drawn). Nothing in the result refers to http(s).
There is no tile layer (no tiles offline); the ward polygons and province outline are
the base map. folium is imported here only.

What the page says comes from :mod:`gis.report_text` (Vietnamese or English, times in the
display zone). Only significant cells and wards are coloured, so the header's counts, the
legend, the map and the table say the same thing; when nothing is significant the header
says so and why. folium's tooltips put property values in ``innerHTML``, so every name
(ward, zone, kind) is HTML-escaped before it goes into a feature.
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
from gis.report_text import (CATEGORIES, category_label, check_lang, local_time, number, say,
                             utc_offset, weekdays, zone_kind_label)

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


def _esc(value) -> str:
    """A name or label as HTML text (folium's tooltips put property values in innerHTML)."""
    return html.escape("" if value is None else str(value), quote=True)


def top_table(result: HotspotResult, wards: gpd.GeoDataFrame, top_n: int = 20,
              lang: str = "vi") -> pd.DataFrame:
    """The top-N cells that had incidents, by Gi* z then incidents (cells too little
    watched to test come last, by incidents), with their ward: the report's table and CSV."""
    cells = result.cells[result.cells["n"] > 0].head(top_n).copy()
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
    cells["category_label"] = [category_label(c if np.isfinite(z) else "", lang)
                               for c, z in zip(cells["category"], cells["z"])]
    cols = ["rank", "cell_id", "ward_id", "ward_name", "lon", "lat", "n", "exposure_h", "rate",
            "z", "p", "q", "category", "category_label"]
    return cells[cols].reset_index(drop=True)


def _table_html(df: pd.DataFrame, lang: str) -> str:
    if not len(df):
        return f"<p id='top-empty' class='note'>{say('top.empty', lang)}</p>"
    cols = ("rank", "cell", "ward", "where", "n", "hours", "rate", "z", "p", "q", "level")
    head = "<tr>" + "".join(f"<th>{say('col.' + c, lang)}</th>" for c in cols) + "</tr>"
    rows = []
    for r in df.itertuples(index=False):
        colour = CATEGORIES[r.category][0] if r.category in CATEGORIES else None
        level = f" style='background:{colour}'" if colour else ""
        rows.append(
            f"<tr><td>{r.rank}</td><td>{r.cell_id}</td><td>{_esc(r.ward_name)}</td>"
            f"<td>{r.lat:.5f}, {r.lon:.5f}</td><td>{number(r.n, lang)}</td>"
            f"<td>{number(r.exposure_h, lang, 1)}</td><td>{number(r.rate, lang, 3)}</td>"
            f"<td>{number(r.z, lang, 2)}</td><td>{number(r.p, lang, 4)}</td>"
            f"<td>{number(r.q, lang, 4)}</td><td{level}>{_esc(r.category_label)}</td></tr>")
    return f"<table id='top-table' class='vigil'>{head}{''.join(rows)}</table>"


def _profile_html(profile: np.ndarray, lang: str) -> str:
    peak = max(int(profile.max()), 1)
    head = "<tr><th></th>" + "".join(f"<th>{h}</th>" for h in range(24)) + "</tr>"
    rows = []
    for d, day in enumerate(weekdays(lang)):
        cells = "".join(
            f"<td style='background:rgba(178,24,43,{v / peak:.2f})'>{v or ''}</td>"
            for v in profile[d].tolist())
        rows.append(f"<tr><th>{day}</th>{cells}</tr>")
    return f"<table id='profile' class='vigil profile'>{head}{''.join(rows)}</table>"


def _scope(wards: gpd.GeoDataFrame, ward_ids: Sequence[str], kind_labels: Sequence[str],
           lang: str) -> str:
    if ward_ids:
        names = dict(zip(wards["id"], wards["name"])) if len(wards) else {}
        where = say("ward", lang, name=", ".join(names.get(w, w) for w in ward_ids))
    else:
        where = say("all_areas", lang)
    kinds = (say("kinds", lang, names=", ".join(kind_labels)) if kind_labels
             else say("all_kinds", lang))
    return f"{where} · {kinds}"


def _no_hotspot_html(result: HotspotResult, lang: str) -> str:
    reason = result.no_hotspot_reason()
    if reason is None:
        return ""
    code, numbers = reason
    headline = say("none.cells" if len(result.hot_wards()) else "none", lang)
    return (f"<p id='no-hotspots' class='none'><b>{headline}</b> "
            f"<span id='no-hotspots-why' data-reason='{code}'>{say('why.' + code, lang, **numbers)}"
            "</span></p>")


def _header_html(result: HotspotResult, lang: str, tz: str, scope: str, n_cams: int) -> str:
    notes = [say("method", lang, cell=grid.CELL_SIZE_M)]
    if result.n_unwatched:
        notes.append(say("unwatched", lang, n=result.n_unwatched))
    if result.assumed_full_time:
        notes.append(say("assumed", lang, n=len(result.assumed_full_time)))
    note_html = "".join(f"<p class='note'>{n}</p>" for n in notes)
    zone = f"{say('local_time', lang)}, {utc_offset(result.since, tz)}"
    return f"""
<header class="vigil">
  <h1>{say('title', lang)}</h1>
  <p id="period">{say('period', lang)}: <b>{local_time(result.since, tz, lang)}</b> →
     <b>{local_time(result.until, tz, lang)}</b> ({zone}) · {scope}</p>
  <p id="counts">{say('counts', lang, incidents=result.n_incidents, cameras=n_cams,
                      hours=round(result.camera_hours))}</p>
  <p id="hot-summary">{say('hot_counts', lang, cells=len(result.hot_cells()),
                           wards=len(result.hot_wards()))}</p>
  {_no_hotspot_html(result, lang)}
  {note_html}
  <p class="note approx">{say('approx', lang)}</p>
</header>"""


_STYLE = """<style>
body { font-family: "Noto Sans", "DejaVu Sans", sans-serif; margin: 0; }
header.vigil, section.vigil { padding: 0.5em 1em; }
header.vigil h1 { font-size: 1.4em; margin: 0.2em 0; }
.note { color: #444; font-size: 0.9em; margin: 0.2em 0; }
.none { background: #fff4d6; border-left: 4px solid #c98a00; padding: 0.3em 0.6em; }
.approx { color: #8a4b00; }
table.vigil { border-collapse: collapse; font-size: 0.85em; }
table.vigil td, table.vigil th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
table.profile td { min-width: 1.6em; }
.legend { background: white; padding: 6px 8px; font-size: 12px; line-height: 1.5; }
.legend i { display: inline-block; width: 14px; height: 14px; margin-right: 4px; }
</style>"""


def _legend_html(shown: set[str], lang: str) -> str:
    items = "".join(f"<div data-category='{k}'><i style='background:{c[0]}'></i>"
                    f"{category_label(k, lang)}</div>"
                    for k, c in CATEGORIES.items() if k in shown)
    if not items:
        items = f"<div id='legend-none'>{say('legend.none', lang)}</div>"
    return f"""
<div id="vigil-legend" class="legend leaflet-control" style="position:absolute; bottom:24px;
  right:10px; z-index:1000;">
  <b>{say('legend', lang)}</b>{items}
  <div><i style='background:#3182bd; opacity:.35'></i>{say('legend.coverage', lang)}</div>
  <div><i style='border:2px dashed #555'></i>{say('legend.wards', lang)}</div>
</div>"""


def _tooltip(fields: Sequence[str], keys: Sequence[str], lang: str) -> folium.GeoJsonTooltip:
    return folium.GeoJsonTooltip(list(fields), aliases=[say(k, lang) for k in keys])


def _ward_layer(m: folium.Map, result: HotspotResult, wards: gpd.GeoDataFrame,
                lang: str) -> None:
    stats = result.wards.set_index("ward_id") if len(result.wards) else pd.DataFrame()
    feats = []
    for rec in wards.itertuples(index=False):
        r = stats.loc[rec.id] if rec.id in stats.index else None
        tested = r is not None and np.isfinite(r["z"])
        category = str(r["category"]) if tested else ""
        feats.append({"type": "Feature", "geometry": shapely.geometry.mapping(rec.geometry),
                      "properties": {
                          "name": _esc(rec.name),
                          "n": number(int(r["n"]) if r is not None else 0, lang),
                          "rate": number(float(r["rate"]) if r is not None else None, lang, 4),
                          "z": number(float(r["z"]) if tested else None, lang, 2),
                          "level": _esc(category_label(category, lang)),
                          "fill": CATEGORIES[category][0] if category in CATEGORIES else None,
                          "boundary": say("approximate" if rec.approximate else "official",
                                          lang)}})
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats}, name=say("layer.wards", lang),
        style_function=lambda f: {"color": "#555", "weight": 1, "dashArray": "4 3",
                                  "fillColor": f["properties"]["fill"] or "#ffffff",
                                  "fillOpacity": 0.45 if f["properties"]["fill"] else 0.0},
        tooltip=_tooltip(["name", "n", "rate", "z", "level", "boundary"],
                         ["tip.ward", "tip.incidents", "tip.rate", "tip.z", "tip.level",
                          "tip.boundary"], lang),
    ).add_to(m)


def _zone_layer(m: folium.Map, zones: gpd.GeoDataFrame, lang: str) -> None:
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": shapely.geometry.mapping(z.geometry),
             "properties": {"name": _esc(z.name), "kind": _esc(zone_kind_label(z.kind, lang))}}
            for z in zones.itertuples(index=False)]},
        name=say("layer.zones", lang), show=False,
        style_function=lambda f: {"color": "#6a3d9a", "weight": 2, "fillOpacity": 0.05},
        tooltip=_tooltip(["name", "kind"], ["tip.zone", "tip.kind"], lang),
    ).add_to(m)


def _cell_layer(m: folium.Map, sig: pd.DataFrame, lang: str) -> None:
    polys = grid.cell_polygons(sig["cell_id"].to_numpy(dtype=np.int64))
    feats = [{"type": "Feature", "geometry": shapely.geometry.mapping(poly),
              "properties": {"level": _esc(category_label(c, lang)), "n": number(int(n), lang),
                             "z": number(float(z), lang, 2), "p": number(float(pv), lang, 4),
                             "colour": CATEGORIES[c][0]}}
             for poly, c, n, z, pv in zip(polys, sig["category"], sig["n"], sig["z"], sig["p"])]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats}, name=say("layer.cells", lang),
        style_function=lambda f: {"color": f["properties"]["colour"], "weight": 1,
                                  "fillColor": f["properties"]["colour"], "fillOpacity": 0.7},
        tooltip=_tooltip(["level", "n", "z", "p"],
                         ["tip.level", "tip.incidents", "tip.z", "tip.p"], lang),
    ).add_to(m)


def build_report(result: HotspotResult, wards: gpd.GeoDataFrame, fovs: Sequence,
                 incidents: dict[str, np.ndarray], *, zones: gpd.GeoDataFrame | None = None,
                 lang: str = "vi", tz: str = "Asia/Ho_Chi_Minh", ward_ids: Sequence[str] = (),
                 kind_labels: Sequence[str] = (), top_n: int = 20,
                 progress: Progress | None = None) -> tuple[str, pd.DataFrame]:
    """The report's HTML (offline, in ``lang``, times in ``tz``) and its top-N table.

    ``ward_ids`` (the wards it is limited to; none: all) and ``kind_labels`` (the event
    kinds in words; none: all alert kinds) describe the filters the incidents were read
    with. Only significant cells and wards are coloured; every name is HTML-escaped.
    """
    check_lang(lang)
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

    step("wards", 0.1)
    if len(wards):
        _ward_layer(m, result, wards, lang)
    step("coverage", 0.3)
    if fovs:
        folium.GeoJson(shapely.geometry.mapping(coverage_union(list(fovs))),
                       name=say("layer.coverage", lang),
                       style_function=lambda f: {"color": "#3182bd", "weight": 0.5,
                                                 "fillColor": "#3182bd", "fillOpacity": 0.3},
                       ).add_to(m)
    if zones is not None and len(zones):
        _zone_layer(m, zones, lang)
    step("incident heatmap", 0.5)
    if len(lon):
        # raw density is not a finding (it mostly shows where cameras are): off at first
        HeatMap(np.column_stack([lat, lon]).round(6).tolist(), name=say("layer.heat", lang),
                radius=14, blur=18, min_opacity=0.3, show=False).add_to(m)
    step("hotspot cells", 0.7)
    sig = result.cells[result.cells["category"].isin(list(CATEGORIES))]
    if len(sig):
        _cell_layer(m, sig, lang)
    folium.LayerControl(collapsed=False).add_to(m)
    shown = set(sig["category"]) | (set(result.wards["category"]) if len(result.wards)
                                    else set())
    m.get_root().html.add_child(folium.Element(_legend_html(shown, lang)))

    step("tables", 0.85)
    table = top_table(result, wards, top_n, lang)
    body = _header_html(result, lang, tz, _scope(wards, ward_ids, kind_labels, lang), len(fovs))
    top_title = say("top.title", lang, n=len(table)) if len(table) else ""
    tail = (f"<section class='vigil'><h2>{top_title}</h2>{_table_html(table, lang)}</section>"
            f"<section class='vigil'><h2>{say('profile', lang)}</h2>"
            f"{_profile_html(result.profile, lang)}</section>")
    page = m.get_root().render()
    page = page.replace("<html>", f'<html lang="{lang}">', 1)
    page = page.replace("</head>", f"<title>{say('title', lang)}</title>{_STYLE}</head>", 1)
    page = page.replace("<body>", "<body>" + body, 1)
    page = page.replace("</body>", tail + "</body>", 1)
    step("offline bundle", 0.95)
    page = offline_html(page)
    step("report ready", 1.0)
    return page, table


def write_report(path: str | Path, page: str) -> Path:
    """Write the report's HTML (its table's CSV is written by the caller's CSV writer)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
