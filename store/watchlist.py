"""The face watchlist and the plate hotlist, with an audit row for every view and change.

Watchlist persons have one or more enrolled faces: an L2-normalised embedding (``real[]``)
and the JPEG photo it came from. Workers load the gallery (:func:`face_gallery`) and the
active hotlist (:func:`active_hotlist`); people and operators go through the functions
that take an ``actor`` and write a row of the one audit log (:func:`store.audit.record`)
in the same transaction.
Faces of people who are not enrolled are never passed to this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

import numpy as np
import psycopg

from store.audit import RECOGNITION_ACTIONS, record, recent
from store.plate_format import Plate, compact, parse_plate

CATEGORIES = ("wanted", "missing", "suspect", "other")


class NotFound(LookupError):
    """No watchlist person, face or hotlist plate with that key."""


@dataclass(frozen=True)
class Person:
    """A watchlist person (without embeddings); ``faces`` are the enrolled face ids."""

    id: int
    name: str
    reason: str | None
    category: str
    active: bool
    created_by: str | None
    created_at: datetime
    faces: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The person as the API sends it (never the embeddings)."""
        return {"id": self.id, "name": self.name, "reason": self.reason,
                "category": self.category, "active": self.active,
                "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "faces": list(self.faces)}


@dataclass(frozen=True)
class Gallery:
    """Enrolled embeddings for matching: row i is face ``face_ids[i]`` of ``person_ids[i]``."""

    model: str
    face_ids: np.ndarray
    person_ids: np.ndarray
    names: tuple[str, ...]
    embeddings: np.ndarray  # (n, d) float32, L2-normalised
    categories: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.face_ids)


def audit(conn: psycopg.Connection, actor: str, action: str, target: str | None = None,
          remote: str | None = None, **detail: Any) -> None:
    """Write one row of the audit log (in the caller's transaction)."""
    record(conn, actor, action, target, remote=remote, detail=detail)


def audit_log(conn: psycopg.Connection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest recognition rows of the audit log (watchlist, hotlist, plate searches,
    incident verdicts)."""
    return recent(conn, limit=limit, action=RECOGNITION_ACTIONS)


# -- watchlist ------------------------------------------------------------------------------

def add_person(conn: psycopg.Connection, name: str, actor: str, *, reason: str | None = None,
               category: str = "wanted", remote: str | None = None) -> int:
    """Create a watchlist person; returns the id."""
    if category not in CATEGORIES:
        raise ValueError(f"category={category!r}: must be one of {', '.join(CATEGORIES)}")
    if not name.strip() or len(name) > 200:
        raise ValueError(f"name={name!r}: must be 1–200 characters")
    with conn.transaction():
        pid = conn.execute("INSERT INTO watchlist_persons (name, reason, category, "
                           "created_by) VALUES (%s, %s, %s, %s) RETURNING id",
                           (name.strip(), reason, category, actor)).fetchone()[0]
        audit(conn, actor, "watchlist.add", f"person:{pid}", remote, name=name.strip(),
              category=category)
    return pid


def add_face(conn: psycopg.Connection, person_id: int, embedding: np.ndarray, photo: bytes,
             model: str, actor: str, *, det_score: float | None = None,
             remote: str | None = None) -> int:
    """Enrol one face photo of a person; the embedding is normalised here."""
    vec = np.asarray(embedding, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("embedding must be a finite, non-zero vector")
    with conn.transaction():
        if conn.execute("SELECT 1 FROM watchlist_persons WHERE id = %s",
                        (person_id,)).fetchone() is None:
            raise NotFound(f"watchlist person {person_id} not found")
        fid = conn.execute(
            "INSERT INTO watchlist_faces (person_id, model, embedding, det_score, photo, "
            "photo_sha256) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (person_id, model, (vec / norm).astype(np.float32).tolist(), det_score, photo,
             hashlib.sha256(photo).hexdigest())).fetchone()[0]
        audit(conn, actor, "watchlist.enrol", f"person:{person_id}", remote, face_id=fid,
              model=model)
    return fid


def _persons(conn: psycopg.Connection, where: str = "", params: tuple = ()) -> list[Person]:
    rows = conn.execute(
        "SELECT p.id, p.name, p.reason, p.category, p.active, p.created_by, p.created_at, "
        "coalesce(array_agg(f.id ORDER BY f.id) FILTER (WHERE f.id IS NOT NULL), '{}') "
        "FROM watchlist_persons p LEFT JOIN watchlist_faces f ON f.person_id = p.id "
        f"{where} GROUP BY p.id ORDER BY p.id", params)
    return [Person(*r[:7], faces=tuple(r[7])) for r in rows]


def list_persons(conn: psycopg.Connection, actor: str, remote: str | None = None,
                 name: str | None = None) -> list[Person]:
    """Watchlist persons, all or those whose name contains ``name`` (audited as a view)."""
    with conn.transaction():
        if name:
            pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            persons = _persons(conn, "WHERE p.name ILIKE %s", (pattern,))
        else:
            persons = _persons(conn)
        audit(conn, actor, "watchlist.list", name, remote, count=len(persons))
    return persons


def get_person(conn: psycopg.Connection, person_id: int, actor: str,
               remote: str | None = None) -> Person:
    """One watchlist person (audited as a view)."""
    with conn.transaction():
        found = _persons(conn, "WHERE p.id = %s", (person_id,))
        if not found:
            raise NotFound(f"watchlist person {person_id} not found")
        audit(conn, actor, "watchlist.view", f"person:{person_id}", remote)
    return found[0]


def face_photo(conn: psycopg.Connection, face_id: int, actor: str,
               remote: str | None = None) -> tuple[int, bytes]:
    """(person id, JPEG) of an enrolled face photo (audited as a view)."""
    with conn.transaction():
        row = conn.execute("SELECT person_id, photo FROM watchlist_faces WHERE id = %s",
                           (face_id,)).fetchone()
        if row is None:
            raise NotFound(f"enrolled face {face_id} not found")
        audit(conn, actor, "watchlist.photo", f"person:{row[0]}", remote, face_id=face_id)
    return row[0], bytes(row[1])


def remove_person(conn: psycopg.Connection, person_id: int, actor: str,
                  remote: str | None = None) -> None:
    """Delete a person with all enrolled faces and photos."""
    with conn.transaction():
        row = conn.execute("DELETE FROM watchlist_persons WHERE id = %s RETURNING name",
                           (person_id,)).fetchone()
        if row is None:
            raise NotFound(f"watchlist person {person_id} not found")
        audit(conn, actor, "watchlist.remove", f"person:{person_id}", remote, name=row[0])


def face_gallery(conn: psycopg.Connection, model: str) -> Gallery:
    """Active persons' embeddings made by ``model``, for the workers' matching."""
    rows = conn.execute(
        "SELECT f.id, p.id, p.name, p.category, f.embedding FROM watchlist_faces f "
        "JOIN watchlist_persons p ON p.id = f.person_id WHERE p.active AND f.model = %s "
        "ORDER BY f.id", (model,)).fetchall()
    if not rows:
        return Gallery(model, np.zeros(0, np.int64), np.zeros(0, np.int64), (),
                       np.zeros((0, 512), np.float32))
    return Gallery(model, np.array([r[0] for r in rows], np.int64),
                   np.array([r[1] for r in rows], np.int64), tuple(r[2] for r in rows),
                   np.array([r[4] for r in rows], np.float32), tuple(r[3] for r in rows))


# -- plate hotlist --------------------------------------------------------------------------

def normalise_plate(text: str) -> Plate:
    """The plate ``text`` spells, or ValueError saying why it is not a Vietnamese plate."""
    plate = parse_plate(text)
    if plate is None or plate.fixes:
        raise ValueError(f"plate={text!r}: not a Vietnamese plate such as 51G-123.45 "
                         "or 59-X3 123.45 (province code, series, number)")
    return plate


def add_plate(conn: psycopg.Connection, text: str, actor: str, *, reason: str | None = None,
              expires_at: datetime | None = None, remote: str | None = None) -> Plate:
    """Put a plate on the hotlist (or re-activate and update it)."""
    plate = normalise_plate(text)
    with conn.transaction():
        conn.execute(
            "INSERT INTO plate_hotlist (plate_compact, plate, reason, expires_at, added_by) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (plate_compact) DO UPDATE SET "
            "reason = EXCLUDED.reason, expires_at = EXCLUDED.expires_at, active = true, "
            "added_by = EXCLUDED.added_by, added_at = now()",
            (plate.compact, plate.text, reason, expires_at, actor))
        audit(conn, actor, "hotlist.add", plate.text, remote, reason=reason)
    return plate


def remove_plate(conn: psycopg.Connection, text: str, actor: str,
                 remote: str | None = None) -> None:
    """Take a plate off the hotlist."""
    key = compact(text)
    with conn.transaction():
        row = conn.execute("DELETE FROM plate_hotlist WHERE plate_compact = %s "
                           "RETURNING plate", (key,)).fetchone()
        if row is None:
            raise NotFound(f"plate {text!r} is not on the hotlist")
        audit(conn, actor, "hotlist.remove", row[0], remote)


def list_plates(conn: psycopg.Connection, actor: str, remote: str | None = None
                ) -> list[dict[str, Any]]:
    """Every hotlist entry (audited as a view)."""
    with conn.transaction():
        rows = conn.execute("SELECT plate, plate_compact, reason, active, expires_at, "
                            "added_by, added_at FROM plate_hotlist ORDER BY added_at DESC"
                            ).fetchall()
        audit(conn, actor, "hotlist.list", None, remote, count=len(rows))
    return [{"plate": r[0], "plate_compact": r[1], "reason": r[2], "active": r[3],
             "expires_at": r[4] and r[4].isoformat(), "added_by": r[5],
             "added_at": r[6].isoformat()} for r in rows]


def active_hotlist(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """compact plate → {plate, reason} for active, unexpired entries (for workers)."""
    rows = conn.execute("SELECT plate_compact, plate, reason FROM plate_hotlist WHERE active "
                        "AND (expires_at IS NULL OR expires_at > now())")
    return {r[0]: {"plate": r[1], "reason": r[2]} for r in rows}


def find_plate_events(conn: psycopg.Connection, partial: str, *, kinds: tuple[str, ...] =
                      ("plate_read", "plate_match"), start: datetime | None = None,
                      end: datetime | None = None, ward_ids: Iterable[str] | None = None,
                      limit: int = 100) -> list[Any]:
    """Plate events whose compact plate contains ``partial``, newest first (GeoEvents)."""
    from store.readers import EVENT_COLUMNS, event_from_row

    key = compact(partial)
    if not key:
        raise ValueError(f"plate={partial!r}: needs at least one letter or digit")
    where = ["kind = ANY(%s)", "attributes ->> 'plate_compact' LIKE %s"]
    params: list[Any] = [list(kinds), "%" + key + "%"]
    if start is not None:
        where.append("ts >= %s")
        params.append(start)
    if end is not None:
        where.append("ts < %s")
        params.append(end)
    if ward_ids is not None:
        where.append("ward_id = ANY(%s)")
        params.append(list(ward_ids))
    params.append(limit)
    rows = conn.execute(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE "
                        f"{' AND '.join(where)} ORDER BY ts DESC, id DESC LIMIT %s", params)
    return [event_from_row(r) for r in rows]
