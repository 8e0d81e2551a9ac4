"""Alert handling: acknowledge, assign, resolve — state in ``alert_state``, history in
``alert_actions``; events themselves never change.

Transitions: an alert starts ``new`` (no row); ``acknowledge`` from new; ``assign``
(to someone) from new, acknowledged or assigned (re-assign); ``resolve`` from any
state but resolved. Anything else is an :class:`AlertConflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import psycopg

ACTIONS = {"acknowledge": "acknowledged", "assign": "assigned", "resolve": "resolved"}
_ALLOWED_FROM = {
    "acknowledge": {"new"},
    "assign": {"new", "acknowledged", "assigned"},
    "resolve": {"new", "acknowledged", "assigned"},
}
MAX_NOTE = 2000


class AlertNotFound(LookupError):
    """No event with that id, or the event is not an alert."""


class AlertConflict(ValueError):
    """The action does not apply to the alert's current state."""


@dataclass(frozen=True, slots=True)
class AlertState:
    """Where an alert stands; ``ward_id`` is the event's, for scope and socket rooms."""

    event_id: int
    status: str
    assignee: str | None
    updated_by: str | None
    updated_at: datetime | None
    note: str | None
    ward_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As the API and the ``alert_state`` socket event send it."""
        return {"event_id": self.event_id, "status": self.status, "assignee": self.assignee,
                "updated_by": self.updated_by, "note": self.note, "ward_id": self.ward_id,
                "updated_at": None if self.updated_at is None else self.updated_at.isoformat()}


def _event(conn: psycopg.Connection, event_id: int) -> tuple[str | None, bool]:
    row = conn.execute(
        "SELECT e.ward_id, coalesce(k.is_alert, false) FROM events e "
        "LEFT JOIN event_kinds k ON k.code = e.kind WHERE e.id = %s LIMIT 1",
        (event_id,)).fetchone()
    if row is None:
        raise AlertNotFound(f"event {event_id} not found")
    return row[0], bool(row[1])


def event_ward(conn: psycopg.Connection, event_id: int) -> str | None:
    """The ward of event ``event_id`` (AlertNotFound if there is no such event)."""
    return _event(conn, event_id)[0]


def apply_action(conn: psycopg.Connection, event_id: int, action: str, actor: str, *,
                 assignee: str | None = None, note: str | None = None) -> AlertState:
    """Apply ``action`` to the alert ``event_id`` in one transaction; the new state."""
    if action not in ACTIONS:
        raise ValueError(f"action={action!r}: unknown (known: {', '.join(ACTIONS)})")
    if action == "assign" and not (assignee and assignee.strip()):
        raise ValueError("assignee: required to assign an alert")
    if note is not None and len(note) > MAX_NOTE:
        raise ValueError(f"note: longer than {MAX_NOTE} characters")
    with conn.transaction():
        ward_id, is_alert = _event(conn, event_id)
        if not is_alert:
            raise AlertNotFound(f"event {event_id} is not an alert")
        # serialise concurrent actions on one alert
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('vigil_alert'), %s::int)",
                     (event_id % 2_147_483_647,))
        row = conn.execute("SELECT status, assignee FROM alert_state WHERE event_id = %s",
                           (event_id,)).fetchone()
        status = row[0] if row else "new"
        if status not in _ALLOWED_FROM[action]:
            raise AlertConflict(f"alert {event_id} is {status}; cannot {action} it")
        new_assignee = assignee.strip() if action == "assign" and assignee \
            else (row[1] if row else None)
        saved = conn.execute(
            "INSERT INTO alert_state (event_id, status, assignee, updated_by, updated_at, note) "
            "VALUES (%s, %s, %s, %s, now(), %s) ON CONFLICT (event_id) DO UPDATE SET "
            "status = EXCLUDED.status, assignee = EXCLUDED.assignee, "
            "updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at, "
            "note = coalesce(EXCLUDED.note, alert_state.note) "
            "RETURNING status, assignee, updated_by, updated_at, note",
            (event_id, ACTIONS[action], new_assignee, actor, note)).fetchone()
        conn.execute("INSERT INTO alert_actions (event_id, action, actor, note) "
                     "VALUES (%s, %s, %s, %s)",
                     (event_id, action if action != "assign" else f"assign:{new_assignee}",
                      actor, note))
    return AlertState(event_id, *saved, ward_id=ward_id)


def alert_states(conn: psycopg.Connection, event_ids: Iterable[int]) -> dict[int, AlertState]:
    """The stored state of each given alert (alerts without a row are ``new``)."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT event_id, status, assignee, updated_by, updated_at, note FROM alert_state "
        "WHERE event_id = ANY(%s)", (ids,)).fetchall()
    return {r[0]: AlertState(*r) for r in rows}


def alert_history(conn: psycopg.Connection, event_id: int) -> list[dict[str, Any]]:
    """Every action taken on the alert, oldest first."""
    rows = conn.execute(
        "SELECT action, actor, at, note FROM alert_actions WHERE event_id = %s ORDER BY at, id",
        (event_id,)).fetchall()
    return [{"action": a, "actor": who, "at": at.isoformat(), "note": note}
            for a, who, at, note in rows]
