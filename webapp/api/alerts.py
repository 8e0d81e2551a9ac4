"""Alerts: how many match the list's filters (the commander's list header), and the
actions acknowledge, assign, resolve — stored, then broadcast to every browser."""

from __future__ import annotations

import logging

from dataclasses import replace

from flask import Response

from store import webqueries as q
from store.alerts import AlertConflict, AlertNotFound, apply_action, event_ward
from webapp.access import allow, audit, require, require_ward
from webapp.api import bp
from webapp.api.params import json_body
from webapp.db import get_db
from webapp.errors import ApiError
from webapp.realtime import broadcast_alert_state

log = logging.getLogger(__name__)


def _note(value: object) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= 2000)


def _assignee(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= 200


@bp.get("/alerts/count")
@allow("view")
def alert_count() -> Response:
    """How many alerts in the user's ward scope match the events list's filters (e.g.
    ``status=new&status=acknowledged&status=assigned``: the open ones), however many
    the list shows."""
    from webapp.api.events import event_filter
    principal = require("view")
    f = replace(event_filter(principal, 1, None), alerts_only=True)
    return {"count": q.event_count(get_db(), f), "since": f.since.isoformat(),
            "until": f.until.isoformat()}


@bp.post("/alerts/<int:event_id>/<any(acknowledge, assign, resolve):action>")
@allow("act")
def alert_action(event_id: int, action: str) -> Response:
    """Apply an action to an alert; everyone in its ward scope sees the new state live."""
    principal = require("act")
    fields = {"note": _note}
    if action == "assign":
        fields["assignee"] = _assignee
    body = json_body(fields, {"assignee"} if action == "assign" else set())
    conn = get_db()
    try:
        require_ward(principal, event_ward(conn, event_id), f"alert {event_id}")
        state = apply_action(conn, event_id, action, principal.name,
                             assignee=body.get("assignee"), note=body.get("note"))
    except AlertNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except AlertConflict as exc:
        raise ApiError(409, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    log.info("alert %s: %s by %s", event_id, action, principal.name)
    audit(f"alert.{action}", event_id, detail={k: v for k, v in body.items() if v is not None})
    doc = state.to_json()
    broadcast_alert_state(doc)
    return doc
