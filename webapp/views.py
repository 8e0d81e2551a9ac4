"""The pages: map wall (``/wall``), commander (``/``) and planner (``/planner``).

Each page is a Jinja2 template (``webapp/templates``) plus vigil's JavaScript under
``static/vigil``. Everything a script needs arrives in one JSON block (``page_config``):
the language and time zone, the JSON catalogue of :mod:`webapp.i18n` (so no script
fetches it before drawing), the basemap settings of :mod:`webapp.tiles`, the API URLs,
the signed-in principal and the session's CSRF token. Access is checked by
:mod:`webapp.access` before any of these views run; ``@allow`` states what each needs.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from store.model import EVENT_KINDS
from webapp.access import allow, audit, csrf_token, current_principal
from webapp.errors import ApiError
from webapp.i18n import LOCALES, catalogue, current_locale
from webapp.tiles import tile_config

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

#: The command centre's clock: report periods are whole local days.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

#: The REST URLs the scripts call ({name} parts are filled in by static/vigil/js/core.js).
API_URLS = {
    "session": "/api/v1/session",
    "cameras": "/api/v1/cameras",
    "camera": "/api/v1/cameras/{camera_id}",
    "camera_health": "/api/v1/cameras/health",
    "wards": "/api/v1/wards",
    "zones": "/api/v1/zones",
    "ward_counts": "/api/v1/wards/counts",
    "ward_series": "/api/v1/wards/{ward_id}/series",
    "events": "/api/v1/events",
    "event": "/api/v1/events/{event_id}",
    "alert_action": "/api/v1/alerts/{event_id}/{action}",
    "alert_count": "/api/v1/alerts/count",
    "heatmap_incidents": "/api/v1/heatmap/incidents",
    "heatmap_crowd": "/api/v1/heatmap/crowd",
    "coverage": "/planner/coverage.json",
    "incidents": "/api/v1/recognition/incidents",
    "incident_verdict": "/api/v1/recognition/incidents/{incident_id}/verdict",
}

#: Camera statuses counted as seeing their field of view on the coverage layer.
WORKING_STATUSES = frozenset({"online", "unknown"})

#: How the wall behaves (seconds / hours); overridable through app config ``WALL``.
WALL_DEFAULTS = {
    "cycle_s": 40,            # dwell on each ward/zone when idle
    "incident_hours": 6,      # incident heatmap window
    "crowd_minutes": 15,      # crowd heatmap: latest samples within this window
    "pin_max_age_min": 30,    # alert pins fade out over this age, then go
    "pin_limit": 400,         # pins kept on the map at most
    "ticker_items": 12,       # alerts in the ticker
    "refresh_s": 60,          # heatmaps and counters reloaded this often
    "critical_hold_s": 45,    # a critical alert holds the view this long
}


def page_config(view: str, **extra: Any) -> dict[str, Any]:
    """Everything the page's scripts need, sent once as JSON in the page."""
    lang = current_locale()
    cat = catalogue(lang)
    principal = current_principal()
    label = "label_vi" if lang == "vi" else "label_en"
    return {
        "view": view,
        "locale": lang,
        "locales": list(LOCALES),
        "timezone": cat["timezone"],
        "strings": cat["messages"],
        "kinds": {code: {"label": getattr(spec, label), "is_alert": spec.is_alert,
                         "severity": int(spec.severity)}
                  for code, spec in EVENT_KINDS.items()},
        "tiles": tile_config(),
        "api": API_URLS,
        "csrf_token": csrf_token(),
        "user": principal.to_json() if principal is not None else None,
        **extra,
    }


def _render(template: str, view: str, **extra: Any) -> str:
    config = page_config(view, **extra)
    return render_template(template, page=config, view=view,
                           lang_switch=lang_switch_urls())


def lang_switch_urls(back: str | None = None) -> dict[str, str]:
    """The header's language links: each switches, then comes back to this page (or to
    ``back``, e.g. after a form's POST)."""
    nxt = back or (request.full_path.rstrip("?") if request.query_string else request.path)
    return {lang: url_for("i18n.switch", lang=lang, next=nxt) for lang in LOCALES}


@bp.get("/")
@allow("view")
def commander() -> Response | str:
    """The commander's map: filters, the shared alert list, camera detail."""
    principal = current_principal()
    if principal is not None and principal.role == "wall":
        return redirect(url_for("pages.wall"))
    return _render("commander.html", "commander")


@bp.get("/wall")
@allow("view")
def wall() -> str:
    """The unattended map wall (kiosk): read-only, full screen, cycles through areas."""
    options = {**WALL_DEFAULTS, **current_app.config.get("WALL", {})}
    return _render("wall.html", "wall", wall=options)


@bp.get("/planner")
@allow("plan")
def planner() -> str:
    """The planner: heatmaps over a period, ward series, counts by kind, coverage."""
    return _render("planner.html", "planner",
                   report_url=url_for("pages.hotspot_report"))


@bp.get("/planner/coverage.json")
@allow("plan")
def coverage() -> Response:
    """Camera coverage and the blind spots of each zone (``?ward=`` narrows), as GeoJSON."""
    import geopandas as gpd

    from gis.coverage import camera_fovs, coverage_by_area, coverage_union
    from store.areas import camera_records, zones_geojson
    from webapp.db import get_db

    ward = request.args.get("ward") or None
    principal = current_principal()
    conn = get_db()
    working = [c for c in _scoped_cameras(camera_records(conn), principal, ward)
               if c["enabled"] and c["status"] in WORKING_STATUSES]
    fovs = camera_fovs(working)
    zones = [z for z in zones_geojson(conn)["features"]
             if (ward is None or z["properties"].get("ward_id") == ward)
             and (principal is None or principal.sees_ward(z["properties"].get("ward_id")))]
    features: list[dict[str, Any]] = []
    seen = coverage_union(fovs)
    if not seen.is_empty:
        features.append({"type": "Feature", "geometry": seen.__geo_interface__,
                         "properties": {"layer": "coverage", "cameras": len(working)}})
    if zones:
        frame = gpd.GeoDataFrame.from_features(zones, crs=4326)
        for row in coverage_by_area(frame, fovs).itertuples():
            if row.geometry is None or row.geometry.is_empty:
                continue
            features.append({"type": "Feature", "geometry": row.geometry.__geo_interface__,
                             "properties": {"layer": "blind_spot", "zone_id": row.id,
                                            "name": row.name,
                                            "percent_covered": round(row.percent_covered, 1),
                                            "blind_spots": row.blind_spot_count}})
    return current_app.json.response({"type": "FeatureCollection", "features": features})


def _scoped_cameras(cameras: list[dict[str, Any]], principal: Any,
                    ward: str | None) -> list[dict[str, Any]]:
    return [c for c in cameras if (ward is None or c["ward_id"] == ward)
            and (principal is None or principal.sees_ward(c["ward_id"]))]


def _day(name: str, default: date) -> date:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"{name}={raw!r}: expected a date YYYY-MM-DD",
                       parameter=name) from None


@bp.get("/planner/hotspots.html")
@allow("plan")
def hotspot_report() -> Response:
    """The folium hotspot report (gis.report) for ``?from=&to=`` days (UTC+7), as a download.

    ``?ward=`` narrows it to one ward; ``?kind=`` (repeatable) to some event kinds.
    """
    import geopandas as gpd
    import numpy as np

    from gis.coverage import camera_fovs
    from gis.hotspots import analyse
    from gis.report import build_report
    from webapp.names import kind_label
    from store.areas import (camera_records, incident_points, watched_hours, wards_geojson,
                             zones_geojson)
    from webapp.db import get_db

    today = datetime.now(LOCAL_TZ).date()
    first, last = _day("from", today - timedelta(days=6)), _day("to", today)
    if last < first or (last - first).days > 366:
        raise ApiError(400, "the period must run forward and last at most 366 days",
                       parameter="to")
    since = datetime.combine(first, time(), LOCAL_TZ).astimezone(timezone.utc)
    until = datetime.combine(last + timedelta(days=1), time(), LOCAL_TZ).astimezone(timezone.utc)
    ward = request.args.get("ward") or None
    kinds = tuple(request.args.getlist("kind"))
    principal = current_principal()
    if ward is not None and principal is not None and not principal.sees_ward(ward):
        raise ApiError(404, f"ward {ward!r} not found")
    conn = get_db()
    incidents = incident_points(conn, since, until, kinds, ward)
    if principal is not None and principal.wards is not None:
        keep = np.isin(incidents["ward_id"].astype(object), sorted(principal.wards))
        incidents = {name: column[keep] for name, column in incidents.items()}
    cameras = [c for c in _scoped_cameras(camera_records(conn), principal, ward) if c["enabled"]]
    hours = watched_hours(conn, since, until)
    wards = gpd.GeoDataFrame.from_features(wards_geojson(conn)["features"], crs=4326)
    zones = gpd.GeoDataFrame.from_features(zones_geojson(conn)["features"], crs=4326)
    scoped = principal is not None and principal.wards is not None
    shown = [ward] if ward is not None else sorted(principal.wards) if scoped else []
    if ward is not None or scoped:
        wards = wards[wards["id"].isin(shown)]
    result = analyse(incidents, cameras, hours, wards, since, until)
    lang = current_locale()
    page, _table = build_report(result, wards, camera_fovs(cameras), incidents, zones=zones,
                                lang=lang, tz=str(LOCAL_TZ), ward_ids=shown,
                                kind_labels=[kind_label(k, lang) for k in kinds])
    log.info("hotspot report %s..%s (%s incidents) for %s", first, last,
             len(incidents["ts"]), principal.name if principal else "?")
    audit("export", "hotspot report", detail={"from": str(first), "to": str(last),
                                              "ward": ward, "kinds": list(kinds)})
    response = Response(page, mimetype="text/html")
    response.headers["Content-Disposition"] = \
        f'attachment; filename="vigil-hotspots-{first}-{last}.html"'
    return response
