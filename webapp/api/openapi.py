"""The OpenAPI 3.1 document of ``/api/v1``, served at ``/api/v1/openapi.json``.

Written by hand beside the routes (``webapp/api/*.py``); ``tests/webapp/test_openapi.py``
checks that every API route is described and every described path exists.
"""

from __future__ import annotations

from typing import Any

from store.model import EVENT_KINDS
from webapp.api.params import MAX_WINDOW_DAYS, TIME_EXAMPLE

_KINDS = sorted(EVENT_KINDS)
#: Methods that change something: a cookie session must send its CSRF token with them.
_WRITES = ("post", "put", "patch", "delete")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _q(name: str, schema: dict[str, Any], description: str,
       required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": description}


def _p(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "403": {"$ref": "#/components/responses/Forbidden"},
}
#: More ways a request with a body can be refused.
_BODY_ERRORS = {
    "413": {"$ref": "#/components/responses/TooLarge"},
    "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_WINDOW = [
    _q("since", _TIME, "Start of the window: an RFC 3339 time with its offset (e.g. "
                       f"`{TIME_EXAMPLE}`); default: `hours` before `until`. Must be "
                       f"before `until`, and at most {MAX_WINDOW_DAYS} days before it "
                       "(else 400 naming `since`)."),
    _q("until", _TIME, "End of the window (RFC 3339 with its offset); default: now."),
    _q("hours", {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_DAYS * 24},
       f"Window length when `since` is absent (at most {MAX_WINDOW_DAYS} days)."),
]


def _choices(values: Any) -> dict[str, Any]:
    """A filter taking one or more of ``values`` (comma-separated or repeated); an empty
    value (a form's "all" choice) filters nothing."""
    return {"type": "string", "enum": ["", *sorted(values)]}


_CURSOR = {"type": "integer", "minimum": 1}
#: The filters of the event list and of its export.
_EVENT_FILTERS = [
    _q("ward", _STR, "Ward id(s), comma-separated or repeated."),
    _q("zone", _STR, "Zone id(s)."),
    _q("camera", _STR, "Camera id(s)."),
    _q("kind", _choices(_KINDS), "Event kind(s); empty: every kind."),
    _q("severity_min", {"type": "integer", "minimum": 0, "maximum": 3},
       "Lowest severity (0 info … 3 critical)."),
    _q("alerts_only", {"type": "boolean"}, "Only alert kinds."),
    _q("status", _choices(["new", "acknowledged", "assigned", "resolved"]),
       "Alert status(es); empty: every status."),
    *_WINDOW,
]
_CAMERA_ID = _p("camera_id", _STR, "Camera id.")
_EVENT_ID = _p("event_id", {"type": "integer", "minimum": 1}, "Event id.")
_NOTE = {"type": ["string", "null"], "maxLength": 2000}


def _op(summary: str, permission: str, responses: dict[str, Any],
        parameters: list[dict[str, Any]] | None = None, tag: str = "map",
        body: dict[str, Any] | None = None, audited: bool = False) -> dict[str, Any]:
    """One operation: its permission (and whether it is audited) in the description."""
    op: dict[str, Any] = {"summary": summary, "tags": [tag],
                          "description": f"Permission: `{permission}`."
                                         + (" Audited." if audited else ""),
                          "responses": {**responses, **_ERRORS}}
    if parameters:
        op["parameters"] = parameters
    if permission == "public":
        op["security"] = []
    if body is not None:
        # a body without required fields may be left out (acknowledge, kiosk rotate)
        required = bool(body.get("required") or body.get("minProperties"))
        op["requestBody"] = {"required": required,
                             "content": {"application/json": {"schema": body}}}
        op["responses"].update(_BODY_ERRORS)
    return op


def _alert_action(summary: str, extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    body = {"type": "object", "additionalProperties": False,
            "properties": {"note": _NOTE, **extra}, "required": required}
    responses = {"200": _json(_ref("AlertState")), **_NOT_FOUND,
                 "409": {"$ref": "#/components/responses/Conflict"}}
    return {"post": _op(summary, "act", responses, [_EVENT_ID], "alerts", body)}


def _paths() -> dict[str, Any]:
    from webapp.api.areas import BUCKETS, ZONE_KINDS
    from webapp.api.cameras import STATUSES
    feature_collection = _ref("FeatureCollection")
    return {
        "/session": {
            "get": _op("Who is signed in, and the CSRF token", "public",
                       {"200": _json(_ref("Session"))}, tag="session"),
            "post": _op("Sign in", "public", {"200": _json(_ref("Session"))}, tag="session",
                        body={"type": "object", "additionalProperties": False,
                              "required": ["username", "password"],
                              "properties": {"username": _STR, "password": _STR}}),
            "delete": _op("Sign out", "view", {"204": {"description": "Signed out"}},
                          tag="session"),
        },
        "/cameras": {"get": _op(
            "Cameras as GeoJSON points (within the user's ward scope)", "view",
            {"200": _json(feature_collection)},
            [_q("ward", _STR, "Only this ward."),
             _q("status", {"type": "string", "enum": list(STATUSES)}, "Only this status.")],
            "cameras")},
        "/cameras/health": {"get": _op(
            "Camera health: status and the latest heartbeat of each camera", "view",
            {"200": _json({"type": "object", "properties": {
                "cameras": {"type": "array", "items": _ref("CameraHealth")}}})},
            tag="cameras")},
        "/cameras/{camera_id}": {"get": _op(
            "One camera with its latest evidence and its recent event timeline", "view",
            {"200": _json(_ref("CameraDetail")), **_NOT_FOUND},
            [_CAMERA_ID, _q("limit", {"type": "integer", "minimum": 1, "maximum": 200},
                            "Timeline length (default 50).")], "cameras")},
        "/cameras/{camera_id}/timeline": {"get": _op(
            "A camera's events, newest first, keyset-paged", "view",
            {"200": _json(_ref("EventPage")), **_NOT_FOUND},
            [_CAMERA_ID, *_WINDOW,
             _q("before", _CURSOR, "Cursor: only events with a smaller id (`next_before`)."),
             _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size.")],
            "cameras")},
        "/events": {"get": _op(
            "Events with filters, newest first, keyset-paged (`before` = `next_before`)",
            "view", {"200": _json(_ref("EventPage"))},
            [*_EVENT_FILTERS,
             _q("before", _CURSOR, "Cursor: only events with a smaller id."),
             _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                "Page size (default 200).")], "events")},
        "/events/export": {"get": _op(
            "The filtered events as a file: CSV (UTF-8 with BOM, formula-safe) or JSON; "
            "at most EXPORT_MAX_ROWS (10,000) rows, else 400 naming the limit", "view",
            {"200": {"description": "The export", "content": {
                "text/csv": {"schema": _STR}, "application/json": {"schema": {
                    "type": "object"}}}}},
            [_q("format", {"type": "string", "enum": ["csv", "json"]}, "Default csv."),
             *_EVENT_FILTERS], "events", audited=True)},
        "/events/{event_id}": {"get": _op(
            "One event with its alert state and action history", "view",
            {"200": _json(_ref("EventDetail")), **_NOT_FOUND}, [_EVENT_ID], "events")},
        "/events/{event_id}/evidence": {"get": _op(
            "The event's evidence image", "evidence",
            {"200": {"description": "The image", "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}}}},
             **_NOT_FOUND}, [_EVENT_ID], "events")},
        "/alerts/{event_id}/acknowledge": _alert_action("Acknowledge an alert", {}, []),
        "/alerts/{event_id}/assign": _alert_action(
            "Assign an alert to someone", {"assignee": {"type": "string", "minLength": 1,
                                                         "maxLength": 200}}, ["assignee"]),
        "/alerts/{event_id}/resolve": _alert_action("Resolve an alert", {}, []),
        "/alerts/count": {"get": _op(
            "How many alerts in scope match the filters (the list may show fewer)", "view",
            {"200": _json({"type": "object", "required": ["count", "since", "until"],
                           "properties": {"count": _INT, "since": _STR, "until": _STR}})},
            _EVENT_FILTERS, "alerts")},
        "/heatmap/incidents": {"get": _op(
            "Incident heatmap: counts per 250 m grid cell from the rollups", "view",
            {"200": _json(_ref("HeatmapCells"))},
            [*_WINDOW, _q("kind", _choices(_KINDS),
                          "Event kind(s); absent or empty: every alert kind."),
             _q("ward", _STR, "Ward id(s).")], "heatmap")},
        "/heatmap/crowd": {"get": _op(
            "Crowd-density heatmap: the latest crowd sample of each camera", "view",
            {"200": _json(_ref("CrowdSamples"))},
            [_q("minutes", {"type": "integer", "minimum": 1, "maximum": 1440},
                "Only samples from the last N minutes (default 15).")], "heatmap")},
        "/wards": {"get": _op("Wards as GeoJSON polygons", "view",
                              {"200": _json(feature_collection)}, tag="areas")},
        "/zones": {"get": _op("Zones (ports, airport, markets, …) as GeoJSON polygons", "view",
                              {"200": _json(feature_collection)},
                              [_q("kind", _choices(ZONE_KINDS),
                                  "Zone kind(s), comma-separated or repeated; empty: every "
                                  "kind.")], "areas")},
        "/wards/counts": {"get": _op(
            "Event counts per ward and kind over a window", "plan",
            {"200": _json(_ref("WardCounts"))}, [*_WINDOW, _q("ward", _STR, "Ward id(s).")],
            "areas")},
        "/wards/{ward_id}/series": {"get": _op(
            "A ward's event counts per time bucket and kind", "plan",
            {"200": _json(_ref("WardSeries")), **_NOT_FOUND},
            [_p("ward_id", _STR, "Ward id."), *_WINDOW,
             _q("bucket", {"type": "string", "enum": list(BUCKETS)},
                "Bucket size (default hour)."),
             _q("kind", _choices(_KINDS), "Event kind(s); empty: every kind.")], "areas")},
        "/openapi.json": {"get": _op("This document", "view",
                                     {"200": _json({"type": "object"})}, tag="meta")},
    }


def _schemas() -> dict[str, Any]:
    nullable_str = {"type": ["string", "null"]}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["status", "code", "message"], "properties": {
                "status": _INT, "code": _STR, "message": _STR,
                "details": {"type": "object"}}}}},
        "Session": {"type": "object", "properties": {
            "user": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "name": _STR, "role": {"type": "string", "enum": [
                    "admin", "commander", "operator", "planner", "wall"]},
                "wards": {"type": ["array", "null"], "items": _STR},
                "permissions": {"type": "array", "items": _STR}}}]},
            "csrf_token": _STR,
            "idle_s": {"type": ["number", "null"], "description":
                       "Seconds without user activity before the session ends "
                       "(null: no idle limit, e.g. the kiosk wall)"}}},
        "Event": {"type": "object", "description": "store.model.GeoEvent.to_json()",
                  "required": ["id", "ts", "camera_id", "kind", "severity", "lon", "lat"],
                  "properties": {
                      "id": _INT, "ts": _TIME, "camera_id": _STR,
                      "kind": {"type": "string", "enum": _KINDS},
                      "severity": {"type": "integer", "minimum": 0, "maximum": 3},
                      "is_alert": {"type": "boolean"}, "lon": {"type": "number"},
                      "lat": {"type": "number"}, "ward_id": nullable_str,
                      "zone_id": nullable_str, "track_id": {"type": ["integer", "null"]},
                      "value": {"type": ["number", "null"]}, "attributes": {"type": "object"},
                      "evidence": {"type": ["object", "null"], "properties": {
                          "path": _STR, "sha256": _STR}},
                      "alert": {"oneOf": [{"type": "null"}, _ref("AlertState")]}}},
        "EventPage": {"type": "object", "required": ["events", "next_before"], "properties": {
            "events": {"type": "array", "items": _ref("Event")},
            "next_before": {"type": ["integer", "null"],
                            "description": "Pass as `before` for the next page; null at the end."}}},
        "EventDetail": {"allOf": [_ref("Event"), {"type": "object", "properties": {
            "history": {"type": "array", "items": {"type": "object", "properties": {
                "action": _STR, "actor": nullable_str, "at": _TIME, "note": nullable_str}}},
            "evidence_url": nullable_str}}]},
        "AlertState": {"type": "object", "properties": {
            "event_id": _INT, "status": {"type": "string", "enum": [
                "new", "acknowledged", "assigned", "resolved"]},
            "assignee": nullable_str, "updated_by": nullable_str,
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "note": nullable_str, "ward_id": nullable_str}},
        "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
            "type": {"const": "FeatureCollection"},
            "features": {"type": "array", "items": {"type": "object", "properties": {
                "type": {"const": "Feature"}, "id": _STR, "geometry": {"type": "object"},
                "properties": {"type": "object"}}}}}},
        "CameraDetail": {"type": "object", "properties": {
            "type": {"const": "Feature"}, "id": _STR, "geometry": {"type": "object"},
            "properties": {"type": "object"},
            "latest_evidence": {"type": ["object", "null"], "properties": {
                "event_id": _INT, "ts": _TIME, "kind": _STR, "url": _STR}},
            "timeline": {"type": "array", "items": _ref("Event")}}},
        "CameraHealth": {"type": "object", "properties": {
            "camera_id": _STR, "name": _STR, "status": _STR, "enabled": {"type": "boolean"},
            "ward_id": nullable_str, "heartbeat_status": nullable_str,
            "heartbeat_at": {"type": ["string", "null"], "format": "date-time"},
            "last_event_at": {"type": ["string", "null"], "format": "date-time"},
            "fps": {"type": ["number", "null"]},
            "frames_dropped": {"type": ["integer", "null"]}}},
        "HeatmapCells": {"type": "object", "properties": {
            "since": _TIME, "until": _TIME, "cell_size_m": {"type": "number"},
            "cells": {"type": "array", "items": {"type": "object", "properties": {
                "cell_id": _INT, "lon": {"type": "number"}, "lat": {"type": "number"},
                "n": _INT, "value_max": {"type": ["number", "null"]}}}}}},
        "CrowdSamples": {"type": "object", "properties": {
            "samples": {"type": "array", "items": {"type": "object", "properties": {
                "camera_id": _STR, "lon": {"type": "number"}, "lat": {"type": "number"},
                "value": {"type": ["number", "null"]}, "ts": _TIME,
                "ward_id": nullable_str}}}}},
        "WardCounts": {"type": "object", "properties": {
            "since": _TIME, "until": _TIME,
            "counts": {"type": "array", "items": {"type": "object", "properties": {
                "ward_id": nullable_str, "kind": _STR, "n": _INT}}}}},
        "WardSeries": {"type": "object", "properties": {
            "ward_id": _STR, "bucket": _STR, "since": _TIME, "until": _TIME,
            "series": {"type": "array", "items": {"type": "object", "properties": {
                "t": _TIME, "kind": _STR, "n": _INT}}}}},
    }


def _response(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _recognition_paths() -> dict[str, Any]:
    from webapp.api.recognition import openapi_paths  # issue 7's blueprint
    return openapi_paths()


def _admin_paths() -> dict[str, Any]:
    from webapp.auth.openapi import openapi_paths  # issue 6's admin API
    return openapi_paths()


def _with_csrf(paths: dict[str, Any]) -> dict[str, Any]:
    """Every state-changing operation of a signed-in user needs the session and its CSRF
    token (kiosk and API tokens are read-only)."""
    for methods in paths.values():
        for method, op in methods.items():
            if method in _WRITES and op.get("security") != []:
                op["security"] = [{"session": [], "csrf": []}]
    return paths


def openapi_document() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "vigil map API", "version": "1",
                 "description": "Cameras, events, heatmaps, areas and alert actions of "
                                "vigil. Sign in with `POST /api/v1/session` (cookie) or "
                                "send a kiosk token as `Authorization: Bearer`; "
                                "state-changing calls need `X-CSRF-Token` from "
                                "`GET /api/v1/session`. Ward-scoped users only see their "
                                "wards. Times are RFC 3339 with their offset (UTC in "
                                "responses). Text may not contain NUL characters (U+0000): "
                                "such a request is refused with 400."},
        "servers": [{"url": "/api/v1"}],
        "paths": _with_csrf({**_paths(), **_recognition_paths(), **_admin_paths()}),
        "components": {
            "schemas": _schemas(),
            "responses": {
                "BadRequest": _response("A bad parameter or body (details name it)"),
                "Unauthorized": _response("Not signed in"),
                "Forbidden": _response("The role may not do this, or the CSRF token is wrong"),
                "NotFound": _response("No such object (or outside the user's ward scope)"),
                "Conflict": _response("The alert is not in a state this action applies to"),
                "TooLarge": _response("The body is larger than the server accepts "
                                      "(64 KiB; `details.max_bytes` says)"),
                "UnsupportedMediaType": _response("The body is not JSON"),
            },
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "kiosk": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"session": []}, {"kiosk": []}],
    }
