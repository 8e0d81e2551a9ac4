"""Cameras: GeoJSON for the map, detail with evidence and timeline, health."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import Response, request, url_for

from store import webqueries as q
from store.readers import camera_status
from webapp.access import allow, require, require_ward
from webapp.api import bp
from webapp.api.events import page_json
from webapp.api.params import choice, integer, single, window
from webapp.db import get_db
from webapp.errors import ApiError

STATUSES = ("unknown", "online", "offline", "tampered", "disabled")


@bp.get("/cameras")
@allow("view")
def cameras() -> Response:
    """Every camera in scope as a GeoJSON FeatureCollection."""
    principal = require("view")
    status = choice("status", STATUSES, "") or None
    features = q.camera_features(get_db(), principal.wards,
                                 ward=single("ward") or None, status=status)
    return {"type": "FeatureCollection", "features": features}


@bp.get("/cameras/health")
@allow("view")
def camera_health() -> Response:
    """Status and the latest heartbeat of each camera in scope."""
    principal = require("view")
    rows = [r for r in camera_status(get_db()) if principal.sees_ward(r.ward_id)]
    return {"cameras": [{
        "camera_id": r.camera_id, "name": r.name, "status": r.status, "enabled": r.enabled,
        "ward_id": r.ward_id, "heartbeat_status": r.heartbeat_status, "fps": r.fps,
        "frames_dropped": r.frames_dropped,
        "heartbeat_at": r.heartbeat_at.isoformat() if r.heartbeat_at else None,
        "last_event_at": r.last_event_at.isoformat() if r.last_event_at else None,
    } for r in rows]}


def _camera(camera_id: str) -> dict:
    principal = require("view")
    feature = q.camera_feature(get_db(), camera_id)
    if feature is None:
        raise ApiError(404, f"camera {camera_id!r} not found")
    require_ward(principal, feature["properties"]["ward_id"], f"camera {camera_id!r}")
    return feature


@bp.get("/cameras/<camera_id>")
@allow("view")
def camera_detail(camera_id: str) -> Response:
    """One camera, its latest evidence image and its recent events."""
    principal = require("view")
    feature = _camera(camera_id)
    limit = integer("limit", 50, lo=1, hi=200)
    conn = get_db()
    now = datetime.now(timezone.utc)
    rows = q.event_page(conn, q.EventFilter(since=now - timedelta(days=30), until=now,
                                            camera_ids=[camera_id], limit=limit))
    latest = q.latest_evidence(conn, camera_id) if principal.can("evidence") else None
    feature["latest_evidence"] = None if latest is None else {
        "event_id": latest.id, "ts": latest.ts.isoformat(), "kind": latest.kind,
        "url": url_for("api.event_evidence", event_id=latest.id)}
    feature["timeline"] = page_json(rows, limit)["events"]
    return feature


@bp.get("/cameras/<camera_id>/timeline")
@allow("view")
def camera_timeline(camera_id: str) -> Response:
    """A camera's events, newest first, keyset-paged."""
    _camera(camera_id)
    since, until = window(default_hours=24 * 7)
    limit = integer("limit", 200, lo=1, hi=1000)
    rows = q.event_page(get_db(), q.EventFilter(
        since=since, until=until, camera_ids=[camera_id], limit=limit,
        before_id=integer("before", None, lo=1)))
    return page_json(rows, limit)
