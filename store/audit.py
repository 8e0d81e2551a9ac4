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
    where, params = [], []
    if action:
        where.append("action LIKE ANY(%s)")
        params.append([_prefix(a) for a in ((action,) if isinstance(action, str) else action)])
    if actor:
        where.append("actor = %s")
        params.append(actor)
    if since is not None:
        where.append("at >= %s")
        params.append(since)
    if before_id is not None:
        where.append("id < %s")
        params.append(before_id)
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    query = (f"SELECT id, at, actor, role, action, target, outcome, remote, detail "
             f"FROM audit_log{cond} ORDER BY at DESC, id DESC LIMIT %s")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, [*params, limit]).fetchall()  # type: ignore[arg-type]
    for row in rows:
        row["at"] = row["at"].isoformat()
    return rows
