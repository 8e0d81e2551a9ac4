"""Recognition API under ``/api/v1/recognition``: plate search, hotlist, watchlist, audit.

Plates and faces are personal data. Plate search and enrolled photos need the
``evidence`` permission (admin, commander, operator — not planners or the wall) and are
ward-scoped; the hotlist is managed by those who ``act`` on alerts; the watchlist (names,
reasons) and the recognition rows of the audit log are for admins. Every view and change
writes an ``audit_log`` row (:mod:`store.watchlist` through :func:`store.audit.record`).
Incidents (alerts merged across cameras, :mod:`store.incidents`) are ward-scoped;
operators judge them true or false alarm and admins read the resulting precision per
rule. Enrolment runs the face models: ``vigil watchlist add`` or the admin form of the
recognition page (:mod:`webapp.recognition_views`).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from store import watchlist as wl
from webapp.access import allow, require
from webapp.api.export import csv_response
from webapp.api.params import choice, integer, json_body, rfc3339, single, window
from webapp.db import get_db
from webapp.errors import ApiError, error_response
from webapp.names import request_names

bp = Blueprint("recognition", __name__, url_prefix="/api/v1/recognition")


@bp.errorhandler(wl.NotFound)
def _not_found(exc: wl.NotFound) -> Response:
    """No such person, face or hotlist plate: 404 with the store's message."""
    return error_response(404, str(exc))

MAX_REASON = 2000
#: What a plate search needs: a letter or digit of a plate (the rest is punctuation).
PLATE_QUERY = re.compile("[0-9A-Za-zĐđ]")


def _remote() -> str | None:
    return request.remote_addr


def _reason(value: object) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= MAX_REASON)


def _time(value: object) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and rfc3339(value) is not None


@bp.get("/plates")
@allow("evidence")
def plate_search() -> Response:
    """Plate reads and matches whose plate contains ``plate`` (partial, any punctuation)."""
    principal = require("evidence")
    partial = single("plate") or ""
    if not PLATE_QUERY.search(partial) or len(partial) > 20:
        raise ApiError(400, "query parameter plate: give 1–20 characters of a plate, "
                       "e.g. 51G-12", parameter="plate")
    since, until = window(default_hours=24 * 7)
    limit = integer("limit", 100, lo=1, hi=1000)
    export = choice("format", ("json", "csv"), "json") == "csv"
    conn = get_db()
    with conn.transaction():
        events = wl.find_plate_events(conn, partial, start=since, end=until,
                                      ward_ids=principal.wards, limit=limit)
        wl.audit(conn, principal.name, "plates.export" if export else "plates.search",
                 partial, _remote(), results=len(events))
    if export:
        return _csv(events)
    from flask import url_for

    docs = []
    for e in events:
        doc = e.to_json()
        doc["evidence_url"] = url_for("api.event_evidence", event_id=e.id) \
            if e.evidence is not None else None  # the plate thumbnail
        docs.append(doc)
    return {"plate": wl.compact(partial), "events": docs}


def _csv(events: list) -> Response:
    names = request_names(get_db())
    return csv_response(
        ["event_id", "ts", "kind", "kind_name", "plate", "province", "vehicle", "camera_id",
         "camera_name", "ward_id", "ward_name", "lon", "lat", "confidence"],
        ([e.id, names.time(e.ts), e.kind, names.kind(e.kind), e.attributes.get("plate"),
          e.attributes.get("province"), e.attributes.get("vehicle"), e.camera_id,
          names.camera(e.camera_id), e.ward_id, names.ward(e.ward_id), e.lon, e.lat,
          e.attributes.get("confidence")] for e in events), "plates.csv")


@bp.get("/hotlist")
@allow("act")
def hotlist() -> Response:
    """Every hotlist entry."""
    principal = require("act")
    return {"plates": wl.list_plates(get_db(), principal.name, _remote())}


@bp.post("/hotlist")
@allow("act")
def hotlist_add() -> Response:
    """Add (or re-activate) a plate: ``{"plate": "51G-123.45", "reason": …}``."""
    principal = require("act")
    body = json_body({"plate": lambda v: isinstance(v, str) and 0 < len(v) <= 20,
                      "reason": _reason, "expires_at": _time}, {"plate"})
    expires = body.get("expires_at")
    try:
        plate = wl.add_plate(get_db(), body["plate"], principal.name,
                             reason=body.get("reason"), remote=_remote(),
                             expires_at=rfc3339(expires) if expires else None)
    except ValueError as exc:
        raise ApiError(422, str(exc), field="plate") from None
    return {"plate": plate.text, "plate_compact": plate.compact, "vehicle": plate.vehicle,
            "province": plate.province}, 201


@bp.delete("/hotlist/<plate>")
@allow("act")
def hotlist_remove(plate: str) -> Response:
    """Take a plate off the hotlist."""
    wl.remove_plate(get_db(), plate, require("act").name, _remote())
    return {"removed": wl.compact(plate)}


@bp.get("/watchlist")
@allow("admin")
def watchlist() -> Response:
    """Watchlist persons (no embeddings)."""
    principal = require("admin")
    name = single("name") or None
    if name is not None and len(name) > 200:
        raise ApiError(400, "query parameter name: at most 200 characters",
                       parameter="name")
    return {"persons": [p.to_json() for p in wl.list_persons(
        get_db(), principal.name, _remote(), name=name)]}


@bp.get("/watchlist/<int:person_id>")
@allow("admin")
def watchlist_person(person_id: int) -> Response:
    """One watchlist person."""
    return wl.get_person(get_db(), person_id, require("admin").name, _remote()).to_json()


@bp.delete("/watchlist/<int:person_id>")
@allow("admin")
def watchlist_remove(person_id: int) -> Response:
    """Remove a person with all enrolled faces and photos."""
    wl.remove_person(get_db(), person_id, require("admin").name, _remote())
    return {"removed": person_id}


@bp.get("/faces/<int:face_id>/photo")
@allow("evidence")
def face_photo(face_id: int) -> Response:
    """The enrolled photo a face_match alert points at (to compare with the live crop)."""
    _, jpeg = wl.face_photo(get_db(), face_id, require("evidence").name, _remote())
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/audit")
@allow("admin")
def audit() -> Response:
    """The newest recognition audit rows."""
    require("admin")
    return {"audit": wl.audit_log(get_db(), integer("limit", 200, lo=1, hi=5000))}


@bp.get("/incidents")
@allow("view")
def incidents() -> Response:
    """Merged incidents in scope (alerts merged first, up to the newest committed)."""
    from flask import current_app

    from store import incidents as inc
    principal = require("view")
    since, until = window(default_hours=24)
    conn = get_db()
    inc.merge_new(conn, current_app.config.get("INCIDENT_RADIUS_M", 300.0),
                  current_app.config.get("INCIDENT_WINDOW_S", 300.0))
    found = inc.list_incidents(conn, since, until, principal.wards,
                               integer("limit", 200, lo=1, hi=2000))
    if choice("format", ("json", "geojson"), "json") == "geojson":
        # one point per incident with its member count: one pin on the map
        return current_app.json.response({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [i["lon"],
                                                                              i["lat"]]},
             "properties": {k: v for k, v in i.items() if k not in ("lon", "lat")}}
            for i in found]})
    return {"incidents": found}


@bp.post("/incidents/<int:incident_id>/verdict")
@allow("act")
def incident_verdict(incident_id: int) -> Response:
    """Mark an incident ``true_alarm`` or ``false_alarm`` (feeds rule precision)."""
    from store import incidents as inc
    from webapp.access import require_ward
    principal = require("act")
    body = json_body({"verdict": lambda v: v in inc.VERDICTS, "note": _reason},
                     {"verdict"})
    conn = get_db()
    exists, ward = inc.incident_ward(conn, incident_id)
    if not exists:
        raise ApiError(404, f"incident {incident_id} not found")
    require_ward(principal, ward, f"incident {incident_id}")
    inc.set_verdict(conn, incident_id, body["verdict"], principal.name, body.get("note"),
                    _remote())
    return {"id": incident_id, "verdict": body["verdict"]}


@bp.get("/precision")
@allow("admin")
def precision() -> Response:
    """Precision of every camera rule from judged incidents (tune the noisy ones)."""
    from store import incidents as inc
    require("admin")
    since, _ = window(default_hours=24 * 30)
    return {"since": since.isoformat(), "rules": inc.rule_precision(get_db(), since)}


def openapi_paths() -> dict:
    """This blueprint's paths for the OpenAPI document (:mod:`webapp.api.openapi`)."""
    from webapp.api.openapi import _NOT_FOUND, _WINDOW, _json, _op, _p, _q

    def op(summary: str, permission: str, responses: dict, parameters: list | None = None,
           body: dict | None = None) -> dict:
        return _op(summary, permission, responses, parameters, "recognition", body,
                   audited=True)

    obj = {"type": "object"}
    person_id = _p("person_id", {"type": "integer", "minimum": 1}, "Watchlist person id.")
    reason = {"type": ["string", "null"], "maxLength": MAX_REASON}
    return {
        "/recognition/plates": {"get": op(
            "Plate reads and matches containing a partial plate (`format=csv`: the same "
            "as a CSV file, UTF-8 with BOM)", "evidence",
            {"200": {"description": "The reads, as JSON or (format=csv) a CSV file",
                     "content": {"application/json": {"schema": obj},
                                 "text/csv": {"schema": {"type": "string"}}}}},
            [_q("plate", {"type": "string", "minLength": 1, "maxLength": 20,
                          "pattern": PLATE_QUERY.pattern},
                "Part of a plate with at least one letter or digit, any punctuation "
                "(51G-12).", True),
             *_WINDOW, _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                          "At most."),
             _q("format", {"enum": ["json", "csv"]}, "csv: an export (audited as such).")])},
        "/recognition/hotlist": {
            "get": op("Plate hotlist", "act", {"200": _json(obj)}),
            "post": op("Add a plate to the hotlist", "act",
                       {"201": _json(obj), "422": {"$ref":
                                                   "#/components/responses/BadRequest"}},
                       body={"type": "object", "additionalProperties": False,
                             "required": ["plate"], "properties": {
                                 "plate": {"type": "string", "minLength": 1, "maxLength": 20},
                                 "reason": reason,
                                 "expires_at": {"type": ["string", "null"],
                                                "format": "date-time"}}})},
        "/recognition/hotlist/{plate}": {"delete": op(
            "Take a plate off the hotlist", "act", {"200": _json(obj), **_NOT_FOUND},
            [_p("plate", {"type": "string"}, "The plate (any punctuation).")])},
        "/recognition/watchlist": {"get": op(
            "Watchlist persons (search by name)", "admin", {"200": _json(obj)},
            [_q("name", {"type": "string", "maxLength": 200}, "Part of the name.")])},
        "/recognition/watchlist/{person_id}": {
            "get": op("One watchlist person", "admin", {"200": _json(obj), **_NOT_FOUND},
                      [person_id]),
            "delete": op("Remove a watchlist person", "admin",
                         {"200": _json(obj), **_NOT_FOUND}, [person_id])},
        "/recognition/faces/{face_id}/photo": {"get": op(
            "Enrolled photo of a face", "evidence",
            {"200": {"description": "JPEG", "content": {"image/jpeg": {}}}, **_NOT_FOUND},
            [_p("face_id", {"type": "integer", "minimum": 1}, "Enrolled face id.")])},
        "/recognition/incidents": {"get": op(
            "Incidents: related alerts merged across cameras", "view",
            {"200": _json(obj)}, [*_WINDOW, _q("limit", {"type": "integer", "minimum": 1,
                                                          "maximum": 2000}, "At most."),
                                  _q("format", {"enum": ["json", "geojson"]},
                                     "geojson: one point feature per incident (its "
                                     "member count in properties.n).")])},
        "/recognition/incidents/{incident_id}/verdict": {"post": op(
            "Mark an incident true or false alarm", "act", {"200": _json(obj), **_NOT_FOUND},
            [_p("incident_id", {"type": "integer", "minimum": 1}, "Incident id.")],
            body={"type": "object", "additionalProperties": False, "required": ["verdict"],
                  "properties": {"verdict": {"enum": ["true_alarm", "false_alarm"]},
                                 "note": reason}})},
        "/recognition/precision": {"get": op("Precision per camera rule", "admin",
                                             {"200": _json(obj)}, _WINDOW)},
        "/recognition/audit": {"get": op(
            "Recognition audit log", "admin", {"200": _json(obj)},
            [_q("limit", {"type": "integer", "minimum": 1, "maximum": 5000}, "At most.")])},
    }
