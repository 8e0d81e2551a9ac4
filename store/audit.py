"""The audit log: who did what, when and from where (``audit_log``, migration 0030).

Recognition writes its own ``recognition_audit`` (migration 0040, :mod:`store.watchlist`);
:func:`recent` reads both tables as one log so admins see a single trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

#: Actions written to ``audit_log`` (recognition adds its own, e.g. ``hotlist.add``).
ACTIONS = ("login", "logout", "alert.acknowledge", "alert.assign", "alert.resolve",
           "evidence.view", "export", "user.add", "user.change", "user.password",
           "user.disable", "user.enable", "kiosk.rotate", "kiosk.revoke", "token.add",
           "token.revoke", "camera.change")
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


def recent(conn: psycopg.Connection, *, limit: int = 200, before_id: int | None = None,
           action: str | None = None, actor: str | None = None,
           since: datetime | None = None) -> list[dict[str, Any]]:
    """The newest audit rows of both logs, newest first (``source``: "audit" or
    "recognition"; ids are per source)."""
    where, params = [], []
    if action:
        where.append("action LIKE %s")
        params.append(action.replace("%", r"\%").replace("_", r"\_") + "%")
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
    query = (f"SELECT * FROM (SELECT 'audit' AS source, id, at, actor, role, action, target, "
             f"outcome, remote, detail FROM audit_log{cond} "
             f"UNION ALL SELECT 'recognition', id, at, actor, NULL, action, target, 'ok', "
             f"remote, detail FROM recognition_audit{cond}) AS log "
             f"ORDER BY at DESC, id DESC LIMIT %s")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, [*params, *params, limit]).fetchall()  # type: ignore[arg-type]
    for row in rows:
        row["at"] = row["at"].isoformat()
    return rows
