"""Admin API: users, kiosk and API tokens, the audit log (``admin`` permission).

Every change is audited and re-checks the live sockets at once (:func:`_recheck`), so a
disabled user or a narrowed ward scope loses its rooms immediately. Bodies are strict
JSON: unknown fields, wrong types and oversized values are 400s naming the field.
"""

from __future__ import annotations

import logging
import secrets
from functools import partial
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from store import audit as store_audit
from store import users as store_users
from store.users import TOKEN_SCOPES, UserError, token_key
from webapp.access import allow, audit, current_principal
from webapp.api.params import TIME_EXAMPLE, integer, json_body, rfc3339, single, timestamp
from webapp.auth.bootstrap import rotate_kiosk_token
from webapp.auth.passwords import hash_password, strength_problem
from webapp.db import get_db
from webapp.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")


#: Why a change that leaves no enabled admin is refused (409; the admin page says it in
#: the page's language, naming the user).
LAST_ADMIN = "the last enabled admin cannot be disabled or demoted"

#: Strict JSON bodies whose values never appear in error messages (passwords, tokens).
_body = partial(json_body, echo_values=False, empty=False)


def _str(limit: int) -> Any:
    return lambda v: isinstance(v, str) and 0 < len(v) <= limit


def _wards(v: Any) -> bool:
    return v is None or (isinstance(v, list) and 0 < len(v) <= 500
                         and all(isinstance(w, str) and 0 < len(w) <= 100 for w in v))


def _known_wards(conn: Any, wards: list[str] | None) -> None:
    """Refuse (400, naming the ids and their close matches) wards that are not stored: a
    typo would give the user an empty map and no hint."""
    from store.areas import unknown_wards
    problem = unknown_wards(conn, wards) if wards else None
    if problem:
        raise ApiError(400, problem, field="wards")


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _recheck() -> None:
    from webapp.realtime import pump
    p = pump()
    if p is not None:
        p.recheck()


def _actor() -> str:
    principal = current_principal()
    return principal.name if principal else "anonymous"


@bp.get("/users")
@allow("admin")
def users_list() -> Response:
    """Every user (never a password hash)."""
    return {"users": [u.to_json() for u in store_users.list_users(get_db())]}


@bp.post("/users")
@allow("admin")
def users_add() -> tuple[dict, int]:
    """Create a user: ``{"name", "role", "wards": [...]|null, "password"}``."""
    body = _body({"name": _str(63), "role": _str(20), "wards": _wards,
                  "password": _str(256)}, {"name", "role", "password"})
    problem = strength_problem(body["password"], body["name"])
    if problem:
        raise ApiError(400, f"password too weak: {problem}", field="password")
    conn = get_db()
    _known_wards(conn, body.get("wards"))
    try:
        with conn.transaction():
            store_users.add_user(conn, body["name"], body["role"], body.get("wards"),
                                 hash_password(body["password"]), created_by=_actor())
            audit("user.add", body["name"], detail={"role": body["role"],
                                                    "wards": body.get("wards")})
    except UserError as exc:
        raise ApiError(409 if "exists" in str(exc) else 400, str(exc)) from None
    return store_users.get_user(conn, body["name"]).to_json(), 201  # type: ignore[union-attr]


@bp.patch("/users/<name>")
@allow("admin")
def users_change(name: str) -> Response:
    """Change ``role``, ``wards``, ``disabled`` or ``password``; older sessions end."""
    body = _body({"role": _str(20), "wards": _wards, "disabled": _bool,
                  "password": _str(256)}, set())
    if not body:
        raise ApiError(400, "nothing to change")
    conn = get_db()
    _known_wards(conn, body.get("wards"))
    if "password" in body:
        problem = strength_problem(body["password"], name)
        if problem:
            raise ApiError(400, f"password too weak: {problem}", field="password")
    try:
        with conn.transaction():
            before = store_users.get_user(conn, name)
            if before is None:
                raise ApiError(404, f"user {name!r} not found")
            user = store_users.update_user(
                conn, name, role=body.get("role"), wards=body.get("wards", "keep"),
                disabled=body.get("disabled"),
                password_hash=hash_password(body["password"]) if "password" in body else None)
            if store_users.active_admins(conn) == 0:
                raise ApiError(409, LAST_ADMIN)
            action = "user.password" if set(body) == {"password"} else \
                ("user.disable" if body.get("disabled") is True else
                 "user.enable" if body.get("disabled") is False and len(body) == 1 else
                 "user.change")
            audit(action, name, detail={k: v for k, v in body.items() if k != "password"})
    except UserError as exc:
        raise ApiError(400, str(exc)) from None
    _recheck()
    return user.to_json()


@bp.get("/tokens")
@allow("admin")
def tokens_list() -> Response:
    """API tokens (never the token) and kiosk tokens (key prefix only)."""
    conn = get_db()
    return {"api_tokens": [_iso(t) for t in store_users.list_api_tokens(conn)],
            "kiosk_tokens": [_iso(t) for t in store_users.list_kiosk_tokens(conn)]}


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


@bp.post("/tokens")
@allow("admin")
def tokens_add() -> tuple[dict, int]:
    """Create a read-only API token ``{"name", "scopes": [...], "wards", "expires_at"}``;
    the token is in the answer only."""
    body = _body({"name": _str(100),
                  "scopes": lambda v: isinstance(v, list) and 0 < len(v) <= 3
                  and all(s in TOKEN_SCOPES for s in v),
                  "wards": _wards, "expires_at": _str(40)}, {"name", "scopes"})
    expires = None
    if "expires_at" in body:
        expires = rfc3339(body["expires_at"])
        if expires is None:
            raise ApiError(400, "field 'expires_at': a time with its offset, e.g. "
                                f"{TIME_EXAMPLE}", field="expires_at")
    token = "vgt_" + secrets.token_urlsafe(32)
    conn = get_db()
    _known_wards(conn, body.get("wards"))
    try:
        with conn.transaction():
            ident = store_users.add_api_token(conn, token_key(token), body["name"],
                                              body["scopes"], body.get("wards"),
                                              created_by=_actor(), expires_at=expires)
            audit("token.add", ident, detail={"name": body["name"], "scopes": body["scopes"]})
    except UserError as exc:
        raise ApiError(400, str(exc)) from None
    return {"id": ident, "token": token, "name": body["name"],
            "scopes": sorted(set(body["scopes"]))}, 201


@bp.delete("/tokens/<int:token_id>")
@allow("admin")
def tokens_revoke(token_id: int) -> Response:
    """Revoke an API token."""
    conn = get_db()
    with conn.transaction():
        if not store_users.revoke_api_token(conn, token_id):
            raise ApiError(404, f"no live API token {token_id}")
        audit("token.revoke", token_id)
    _recheck()
    return Response(status=204)


@bp.post("/kiosk/<name>/rotate")
@allow("admin")
def kiosk_rotate(name: str) -> Response:
    """Revoke the kiosk tokens named ``name`` and make a new one (shown once)."""
    if not 0 < len(name) <= 100:
        raise ApiError(400, "kiosk name: 1–100 characters")
    body = _body({"wards": _wards}, set()) if request.content_length else {}
    _known_wards(get_db(), body.get("wards"))
    token = rotate_kiosk_token(get_db(), name, body.get("wards"), actor=_actor())
    _recheck()
    return {"name": name, "token": token, "wall_url": f"/wall?token={token}"}


@bp.delete("/kiosk/<name>")
@allow("admin")
def kiosk_revoke(name: str) -> Response:
    """Revoke every kiosk token named ``name`` (the walls using them are signed out)."""
    conn = get_db()
    with conn.transaction():
        if store_users.revoke_kiosk_tokens(conn, name) == 0:
            raise ApiError(404, f"no live kiosk token named {name!r}")
        audit("kiosk.revoke", name)
    _recheck()
    return Response(status=204)


@bp.get("/audit")
@allow("admin")
def audit_list() -> Response:
    """The audit log, newest first: ``?action=`` (prefix), ``?actor=``, ``?since=``,
    ``?limit=`` (≤ 1000)."""
    action = single("action") or None
    actor = single("actor") or None
    for name, value in (("action", action), ("actor", actor)):
        if value is not None and len(value) > 200:
            raise ApiError(400, f"query parameter {name}: at most 200 characters",
                           parameter=name)
    rows = store_audit.recent(get_db(), limit=integer("limit", 200, lo=1, hi=1000),
                              action=action, actor=actor, since=timestamp("since"))
    return {"entries": rows}


def _number(lo: float, hi: float) -> Any:
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) \
        and v == v and lo <= v <= hi


@bp.patch("/cameras/<camera_id>")
@allow("admin")
def camera_change(camera_id: str) -> Response:
    """Rename, move, re-aim, enable or disable a camera (its ward and zones are re-tagged
    from the areas); audited with the values before and after."""
    from dataclasses import asdict, replace

    from store.registry import get_camera, upsert_cameras
    body = _body({"name": _str(200), "enabled": _bool, "lon": _number(-180, 180),
                  "lat": _number(-90, 90), "heading_deg": _number(0, 360),
                  "fov_deg": _number(1, 360), "range_m": _number(1, 5000)}, set())
    if not body:
        raise ApiError(400, "nothing to change")
    conn = get_db()
    with conn.transaction():
        before = get_camera(conn, camera_id) if len(camera_id) <= 200 else None
        if before is None:
            raise ApiError(404, f"camera {camera_id!r} not found")
        try:
            after = replace(before, **body)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        upsert_cameras(conn, [after])
        old = asdict(before)
        audit("camera.change", camera_id,
              detail={"before": {k: old[k] for k in body}, "after": body})
    camera = get_camera(conn, camera_id)
    return {"id": camera_id, "name": camera.name, "enabled": camera.enabled,  # type: ignore
            "lon": camera.lon, "lat": camera.lat, "ward_id": camera.ward_id}  # type: ignore
