"""The audit log: who did what, when and from where (``audit_log``, migration 0030).

One log for everything: sign-ins, alert actions, evidence views, exports, user, token
and camera changes, and recognition's watchlist, hotlist, plate-search and incident
verdict rows (:mod:`store.watchlist`, :mod:`store.incidents` write through
:func:`record`; migration 0042 folded the old ``recognition_audit`` table in). The table
is append-only (migration 0031).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

#: Actions written to ``audit_log``.
ACTIONS = ("login", "logout", "alert.acknowledge", "alert.assign", "alert.resolve",
           "evidence.view", "export", "events.export", "user.add", "user.change",
           "user.password", "user.disable", "user.enable", "kiosk.rotate", "kiosk.revoke",
           "token.add", "token.revoke", "camera.change",
           "watchlist.add", "watchlist.enrol", "watchlist.list", "watchlist.view",
           "watchlist.photo", "watchlist.remove", "hotlist.add", "hotlist.remove",
           "hotlist.list", "plates.search", "plates.export", "incident.verdict")
#: Action prefixes of recognition's rows (``GET /api/v1/recognition/audit``).
RECOGNITION_ACTIONS = ("watchlist.", "hotlist.", "plates.", "incident.")
OUTCOMES = ("ok", "denied", "failed")


def record(conn: psycopg.Connection, actor: str, action: str, target: str | None = None, *,
           role: str | None = None, outcome: str = "ok", remote: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """Write one audit row (inside the caller's transaction when there is one)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r}: expected one of {', '.join(OUTCOMES)}")
    conn.execute("INSERT INTO audit_log (actor, role, action, target, outcome, remote, detail) "
                 "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (actor[:200], role, action, None if target is None else str(target)[:500],
                  outcome, remote, Jsonb(detail or {})))


def _prefix(action: str) -> str:
    return action.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def recent(conn: psycopg.Connection, *, limit: int = 200, before_id: int | None = None,
           action: str | tuple[str, ...] | None = None, actor: str | None = None,
           since: datetime | None = None) -> list[dict[str, Any]]:
    """The newest audit rows, newest first; ``action`` is a prefix (or several)."""
    actions = None if not action else [
        _prefix(a) for a in ((action,) if isinstance(action, str) else action)]
    query = ("SELECT id, at, actor, role, action, target, outcome, remote, detail "
             "FROM audit_log WHERE (%(actions)s::text[] IS NULL OR action LIKE ANY(%(actions)s))"
             " AND (%(actor)s::text IS NULL OR actor = %(actor)s)"
             " AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)"
             " AND (%(before)s::bigint IS NULL OR id < %(before)s)"
             " ORDER BY at DESC, id DESC LIMIT %(limit)s")
    params = {"actions": actions, "actor": actor or None, "since": since,
              "before": before_id, "limit": limit}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    for row in rows:
        row["at"] = row["at"].isoformat()
    return rows
