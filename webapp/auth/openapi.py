"""The admin API's paths for the OpenAPI document (:mod:`webapp.api.openapi`)."""

from __future__ import annotations

from typing import Any


def openapi_paths() -> dict[str, Any]:
    """Users, tokens, kiosk tokens and the audit log (permission ``admin``)."""
    from webapp.api.openapi import _NOT_FOUND, _json, _op, _p, _q

    def op(summary: str, responses: dict, parameters: list | None = None,
           body: dict | None = None) -> dict:
        return _op(summary, "admin", responses, parameters, "admin", body, audited=True)

    obj = {"type": "object"}
    wards = {"type": ["array", "null"], "items": {"type": "string", "minLength": 1,
                                                  "maxLength": 100},
             "minItems": 1, "maxItems": 500, "description": "Ward ids, each a stored ward (GET /api/v1/wards; an "
                            "unknown id is a 400 naming it and its close matches); "
                            "null: every ward."}
    role = {"enum": ["admin", "commander", "operator", "planner", "wall"]}
    password = {"type": "string", "minLength": 12, "maxLength": 256,
                "description": "12+ characters with 3 kinds of character (lower case, "
                               "upper case, digits, others) or 16+ of any kind; at least "
                               "5 different characters, not a common password, not "
                               "containing the user name. A weaker one is refused with "
                               "400 naming `password`."}
    name = _p("name", {"type": "string", "minLength": 1, "maxLength": 100}, "Name.")
    no_content = {"204": {"description": "Done"}}
    conflict = {"409": {"$ref": "#/components/responses/Conflict"}}
    return {
        "/admin/users": {
            "get": op("Every user (never a password hash)", {"200": _json(obj)}),
            "post": op("Create a user", {"201": _json(obj), **conflict}, body={
                "type": "object", "additionalProperties": False,
                "required": ["name", "role", "password"],
                "properties": {"name": {"type": "string", "pattern":
                                        "^[a-z0-9][a-z0-9._-]{1,62}$"},
                               "role": role, "wards": wards, "password": password}}),
        },
        "/admin/users/{name}": {"patch": op(
            "Change a user's role, wards, disabled flag or password (their sessions end "
            "and live sockets are re-checked at once)", {"200": _json(obj), **_NOT_FOUND,
                                                         **conflict}, [name], {
                "type": "object", "additionalProperties": False, "minProperties": 1,
                "properties": {"role": role, "wards": wards, "disabled": {"type": "boolean"},
                               "password": password}})},
        "/admin/tokens": {
            "get": op("API tokens and map-wall tokens (never the tokens)",
                      {"200": _json(obj)}),
            "post": op("Create a read-only API token (shown once)", {"201": _json(obj)},
                       body={"type": "object", "additionalProperties": False,
                             "required": ["name", "scopes"],
                             "properties": {
                                 "name": {"type": "string", "minLength": 1, "maxLength": 100},
                                 "scopes": {"type": "array", "minItems": 1, "maxItems": 3,
                                            "items": {"enum": ["view", "plan", "evidence"]}},
                                 "wards": wards,
                                 "expires_at": {"type": "string", "format": "date-time"}}}),
        },
        "/admin/tokens/{token_id}": {"delete": op(
            "Revoke an API token", {**no_content, **_NOT_FOUND},
            [_p("token_id", {"type": "integer", "minimum": 1}, "Token id.")])},
        "/admin/kiosk/{name}/rotate": {"post": op(
            "Revoke the map-wall tokens of this name and make a new one (shown once)",
            {"200": _json(obj)}, [name], {"type": "object", "additionalProperties": False,
                                          "properties": {"wards": wards}})},
        "/admin/kiosk/{name}": {"delete": op(
            "Revoke the map-wall tokens of this name", {**no_content, **_NOT_FOUND}, [name])},
        "/admin/cameras/{camera_id}": {"patch": op(
            "Rename, move, re-aim, enable or disable a camera", {"200": _json(obj),
                                                                **_NOT_FOUND},
            [_p("camera_id", {"type": "string", "minLength": 1, "maxLength": 200},
                "Camera id.")],
            {"type": "object", "additionalProperties": False, "minProperties": 1,
             "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "enabled": {"type": "boolean"},
                            "lon": {"type": "number", "minimum": -180, "maximum": 180},
                            "lat": {"type": "number", "minimum": -90, "maximum": 90},
                            "heading_deg": {"type": "number", "minimum": 0, "maximum": 360},
                            "fov_deg": {"type": "number", "minimum": 1, "maximum": 360},
                            "range_m": {"type": "number", "minimum": 1,
                                        "maximum": 5000}}})},
        "/admin/audit": {"get": op(
            "The audit log, newest first (logins, alert actions, evidence views, exports, "
            "user, token and camera changes; recognition's entries too)",
            {"200": _json(obj)},
            [_q("action", {"type": "string", "maxLength": 200}, "Action prefix."),
             _q("actor", {"type": "string", "maxLength": 200}, "Who."),
             _q("since", {"type": "string", "format": "date-time"}, "From."),
             _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most.")])},
    }
