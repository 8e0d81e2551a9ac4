"""Events: filtered, keyset-paged lists; one event with its alert history and evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, current_app, send_file, url_for

from store import webqueries as q
from store.alerts import alert_history, alert_states
from store.model import EVENT_KINDS, GeoEvent
from webapp.access import allow, audit, require, require_ward
from webapp.api import bp
from webapp.api.params import boolean, choice_list, integer, window
from webapp.db import get_db
from webapp.errors import ApiError
from webapp.evidence import resolve_evidence

ALERT_STATUSES = ("new", "acknowledged", "assigned", "resolved")


def page_json(rows: list[tuple[GeoEvent, dict | None]], limit: int) -> dict[str, Any]:
    """A page of events as the API sends it; ``next_before`` is the cursor or None."""
    events = []
    for event, state in rows:
        doc = event.to_json()
        doc["alert"] = state
        events.append(doc)
    next_before = rows[-1][0].id if len(rows) == limit and rows else None
    return {"events": events, "next_before": next_before}


@bp.get("/events")
@allow("view")
def events() -> Response:
    """Events in scope matching the filters, newest first."""
    principal = require("view")
    since, until = window(default_hours=24)
    limit = integer("limit", 200, lo=1, hi=1000)
    severity = integer("severity_min", None, lo=0, hi=3)
    rows = q.event_page(get_db(), q.EventFilter(
        since=since, until=until, wards=principal.wards,
        ward_ids=choice_list("ward"), zone_ids=choice_list("zone"),
        camera_ids=choice_list("camera"), kinds=choice_list("kind", EVENT_KINDS),
        severity_min=severity, alerts_only=boolean("alerts_only"),
        statuses=choice_list("status", ALERT_STATUSES),
        before_id=integer("before", None, lo=1), limit=limit))
    return page_json(rows, limit)


def _event(event_id: int) -> GeoEvent:
    principal = require("view")
    event = q.event_by_id(get_db(), event_id)
    if event is None:
        raise ApiError(404, f"event {event_id} not found")
    require_ward(principal, event.ward_id, f"event {event_id}")
    return event


@bp.get("/events/<int:event_id>")
@allow("view")
def event_detail(event_id: int) -> Response:
    """One event, its alert state and the history of actions on it."""
    principal = require("view")
    event = _event(event_id)
    doc = event.to_json()
    doc["alert"] = None
    if event.spec.is_alert:
        state = alert_states(get_db(), [event_id]).get(event_id)
        doc["alert"] = state.to_json() if state else {
            "event_id": event_id, "status": "new", "assignee": None, "updated_by": None,
            "updated_at": None, "note": None, "ward_id": event.ward_id}
        doc["alert"]["ward_id"] = event.ward_id
    doc["history"] = alert_history(get_db(), event_id)
    doc["evidence_url"] = url_for("api.event_evidence", event_id=event_id) \
        if event.evidence and principal.can("evidence") else None
    return doc


@bp.get("/events/<int:event_id>/evidence")
@allow("evidence")
def event_evidence(event_id: int) -> Response:
    """The event's evidence image (faces and plates: not for planners or the wall)."""
    event = _event(event_id)
    if event.evidence is None:
        raise ApiError(404, f"event {event_id} has no evidence image")
    path: Path = resolve_evidence(Path(current_app.config["EVIDENCE_ROOT"]),
                                  event.evidence.path)
    current_app.logger.info("evidence view: event %s by %s", event_id, require("view").name)
    audit("evidence.view", event_id, detail={"path": event.evidence.path})
    response = send_file(path, max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
