"""Wards and zones (GeoJSON), per-ward counts and series, incident and crowd heatmaps."""

from __future__ import annotations

import numpy as np
from flask import Response

from gis.grid import CELL_SIZE_M, cell_center
from store import webqueries as q
from store.model import EVENT_KINDS
from store.readers import heatmap_cells
from webapp.access import allow, require, require_ward
from webapp.api import bp
from webapp.api.params import choice, choice_list, integer, window
from webapp.db import get_db
from webapp.errors import ApiError

ZONE_KINDS = ("port", "airport", "market", "square", "casino", "tourist_area",
              "critical_site", "geofence")
BUCKETS = ("15min", "hour", "day")
ALERT_KINDS = sorted(k for k, spec in EVENT_KINDS.items() if spec.is_alert)


@bp.get("/wards")
@allow("view")
def wards() -> Response:
    """The wards in the user's scope (every ward for an unscoped user) as GeoJSON
    polygons; ``in_scope`` is kept for older clients (always true)."""
    principal = require("view")
    features = [f for f in q.area_features(get_db(), "wards") if principal.sees_ward(f["id"])]
    for f in features:
        f["properties"]["in_scope"] = True
    return {"type": "FeatureCollection", "features": features}


@bp.get("/zones")
@allow("view")
def zones() -> Response:
    """Zones (ports, airport, markets, squares, …) in the user's ward scope as GeoJSON
    polygons."""
    principal = require("view")
    kinds = choice_list("kind", ZONE_KINDS)
    return {"type": "FeatureCollection", "features": [
        f for f in q.area_features(get_db(), "zones", kinds=kinds)
        if principal.sees_ward(f["properties"].get("ward_id"))]}


@bp.get("/wards/counts")
@allow("plan")
def ward_counts() -> Response:
    """Event counts per ward and kind over the window (from the rollups)."""
    principal = require("plan")
    since, until = window(default_hours=24 * 7)
    counts = q.ward_counts(get_db(), since, until, principal.wards, choice_list("ward"))
    return {"since": since.isoformat(), "until": until.isoformat(), "counts": counts}


@bp.get("/wards/<ward_id>/series")
@allow("plan")
def ward_series(ward_id: str) -> Response:
    """A ward's counts per time bucket and kind."""
    principal = require("plan")
    require_ward(principal, ward_id, f"ward {ward_id!r}")
    conn = get_db()
    if not q.ward_exists(conn, ward_id):
        raise ApiError(404, f"ward {ward_id!r} not found")
    since, until = window(default_hours=24 * 7)
    bucket = choice("bucket", BUCKETS, "hour")
    series = q.ward_series(conn, ward_id, since, until, bucket,
                           choice_list("kind", EVENT_KINDS))
    return {"ward_id": ward_id, "bucket": bucket, "since": since.isoformat(),
            "until": until.isoformat(), "series": series}


@bp.get("/heatmap/incidents")
@allow("view")
def incident_heatmap() -> Response:
    """Alert counts per 250 m grid cell over the window (default: the last 24 hours);
    rollups plus the events not yet rolled up, so the wall is never stale."""
    principal = require("view")
    since, until = window(default_hours=24)
    kinds = choice_list("kind", EVENT_KINDS) or ALERT_KINDS
    wanted = choice_list("ward") or None
    if principal.wards is not None:
        wanted = sorted(principal.wards & set(wanted)) if wanted else sorted(principal.wards)
    rows = heatmap_cells(get_db(), since, until, kinds=kinds, ward_ids=wanted)
    cells = []
    if rows:
        lon, lat = cell_center(np.array([r.cell_id for r in rows], dtype=np.int64))
        cells = [{"cell_id": r.cell_id, "lon": round(float(x), 6), "lat": round(float(y), 6),
                  "n": r.n, "value_max": r.value_max} for r, x, y in zip(rows, lon, lat)]
    return {"since": since.isoformat(), "until": until.isoformat(),
            "cell_size_m": CELL_SIZE_M, "cells": cells}


@bp.get("/heatmap/crowd")
@allow("view")
def crowd_heatmap() -> Response:
    """The latest crowd-density sample of each camera in scope."""
    principal = require("view")
    minutes = integer("minutes", 15, lo=1, hi=1440)
    return {"samples": q.crowd_samples(get_db(), minutes, principal.wards)}
