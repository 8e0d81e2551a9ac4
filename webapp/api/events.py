"""Events: filtered, keyset-paged lists and exports; one event with its alert history
and evidence.

Plates and watchlist identities in event attributes are personal data: principals without
``evidence`` (the wall, planners) get every event through :func:`webapp.access.event_for`,
which removes them. Exports (``GET /events/export``, CSV or JSON) take the same filters
and the same ward scope as the list, refuse more than ``EXPORT_MAX_ROWS`` rows with a
message saying so, and are written to the audit log with their filters and row count.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Response, current_app, send_file, url_for

from store import webqueries as q
from store.alerts import alert_history, alert_states
from store.model import EVENT_KINDS, GeoEvent
from webapp.access import (Principal, allow, audit, current_principal, event_for, require,
                           require_ward)
from webapp.api import bp
from webapp.api.export import csv_response, json_response
from webapp.api.params import boolean, choice, choice_list, integer, window
from webapp.db import get_db
from webapp.errors import ApiError
from webapp.evidence import resolve_evidence
from webapp.names import Names, request_names

ALERT_STATUSES = ("new", "acknowledged", "assigned", "resolved")
#: Default most rows in one export (``EXPORT_MAX_ROWS`` in the app config overrides it).
EXPORT_MAX_ROWS = 10_000
EXPORT_COLUMNS = ("event_id", "ts", "kind", "kind_name", "severity", "alert_status",
                  "camera_id", "camera_name", "ward_id", "ward_name", "zone_id", "zone_name",
                  "lon", "lat", "value", "track_id", "plate", "person_id", "evidence_url",
                  "attributes")


def event_docs(principal: Principal, rows: list[tuple[GeoEvent, dict | None]], *,
               evidence_links: bool = False) -> list[dict[str, Any]]:
    """Events with their alert state as ``principal`` may see them (personal attributes
    removed without ``evidence``); ``evidence_links`` adds ``evidence_url`` (None where
    there is no evidence or the principal may not see it)."""
    docs = []
    for event, state in rows:
        doc = event_for(principal, event.to_json())
        doc["alert"] = state
        if evidence_links:
            doc["evidence_url"] = url_for("api.event_evidence", event_id=event.id) \
                if event.evidence is not None and principal.can("evidence") else None
        docs.append(doc)
    return docs


def export_doc(doc: dict[str, Any], names: Names) -> dict[str, Any]:
    """An event document as an export hands it to a person: instants in the display time
    zone to the second, and the kind, camera, ward and zone names beside their ids."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out[key] = names.time(value) if key == "ts" else value
        if key == "kind":
            out["kind_name"] = names.kind(value)
        elif key in ("camera_id", "ward_id", "zone_id"):
            out[key[:-3] + "_name"] = getattr(names, key[:-3])(value)
    if doc.get("alert"):
        out["alert"] = {**doc["alert"], "updated_at": names.time(doc["alert"]["updated_at"])}
    return out


def page_json(rows: list[tuple[GeoEvent, dict | None]], limit: int) -> dict[str, Any]:
    """A page of events as the API sends it to the current principal (personal
    attributes removed for those without ``evidence``); ``next_before`` is the cursor."""
    events = event_docs(current_principal(), rows)
    next_before = rows[-1][0].id if len(rows) == limit and rows else None
    return {"events": events, "next_before": next_before}


def event_filter(principal: Principal, limit: int, before_id: int | None) -> q.EventFilter:
    """The list's query parameters as a filter within ``principal``'s ward scope."""
    since, until = window(default_hours=24)
    return q.EventFilter(
        since=since, until=until, wards=principal.wards,
        ward_ids=choice_list("ward"), zone_ids=choice_list("zone"),
        camera_ids=choice_list("camera"), kinds=choice_list("kind", EVENT_KINDS),
        severity_min=integer("severity_min", None, lo=0, hi=3),
        alerts_only=boolean("alerts_only"), statuses=choice_list("status", ALERT_STATUSES),
        before_id=before_id, limit=limit)


@bp.get("/events")
@allow("view")
def events() -> Response:
    """Events in scope matching the filters, newest first."""
    principal = require("view")
    limit = integer("limit", 200, lo=1, hi=1000)
    rows = q.event_page(get_db(), event_filter(principal, limit,
                                                integer("before", None, lo=1)))
    return page_json(rows, limit)


def _filters_json(f: q.EventFilter) -> dict[str, Any]:
    """What an export asked for (and the ward scope it ran in), as the audit row keeps it."""
    doc: dict[str, Any] = {"since": f.since.isoformat(), "until": f.until.isoformat(),
                           "scope": None if f.wards is None else sorted(f.wards)}
    for key in ("ward_ids", "zone_ids", "camera_ids", "kinds", "statuses"):
        if getattr(f, key):
            doc[key] = list(getattr(f, key))
    if f.severity_min is not None:
        doc["severity_min"] = f.severity_min
    if f.alerts_only:
        doc["alerts_only"] = True
    return doc


@bp.get("/events/export")
@allow("view")
def events_export() -> Response:
    """The filtered events as a CSV (``format=csv``, default) or JSON file; audited."""
    principal = require("view")
    fmt = choice("format", ("csv", "json"), "csv")
    cap = int(current_app.config.get("EXPORT_MAX_ROWS", EXPORT_MAX_ROWS))
    f = event_filter(principal, cap + 1, None)
    rows = q.event_page(get_db(), f)
    filters = _filters_json(f)
    if len(rows) > cap:
        audit("events.export", f"events.{fmt}", outcome="failed",
              detail={"format": fmt, "filters": filters, "rows": None,
                      "reason": f"more than {cap} rows"})
        raise ApiError(400, f"more than {cap} events match these filters and an export "
                            f"holds at most {cap}: narrow the time window, or choose a "
                            "ward, zone, kind or camera", max_rows=cap)
    audit("events.export", f"events.{fmt}",
          detail={"format": fmt, "filters": filters, "rows": len(rows)})
    names = request_names(get_db())
    docs = [export_doc(d, names) for d in event_docs(principal, rows, evidence_links=True)]
    now = datetime.now(timezone.utc)
    name = f"events-{now:%Y%m%dT%H%M%SZ}.{fmt}"
    if fmt == "json":
        shown = {**filters, "since": names.time(f.since), "until": names.time(f.until)}
        return json_response({"exported_at": names.time(now), "exported_by": principal.name,
                              "timezone": names.tz, "language": names.lang,
                              "filters": shown, "count": len(docs), "events": docs}, name)
    return csv_response(EXPORT_COLUMNS, (
        [d["id"], d["ts"], d["kind"], d["kind_name"], d["severity"],
         (d["alert"] or {}).get("status"), d["camera_id"], d["camera_name"], d["ward_id"],
         d["ward_name"], d["zone_id"], d["zone_name"], d["lon"], d["lat"], d["value"],
         d["track_id"], d["attributes"].get("plate"), d["attributes"].get("person_id"),
         d["evidence_url"], d["attributes"] or None] for d in docs), name)


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
    doc = event_for(principal, event.to_json())
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
