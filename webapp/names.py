"""What a person reads beside the ids in exports and reports: camera, ward and zone names
as stored, event kinds in the reader's language (Vietnamese or English), and instants as
ISO 8601 in the display time zone (Asia/Ho_Chi_Minh: ``2026-11-16T10:05:00+07:00``, to the
second)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping
from zoneinfo import ZoneInfo

import psycopg

from store.model import EVENT_KINDS


def kind_label(code: str, lang: str) -> str:
    """An event kind in words (the code itself for a kind vigil does not know)."""
    spec = EVENT_KINDS.get(code)
    if spec is None:
        return code
    return spec.label_vi if lang == "vi" else spec.label_en


def local_iso(value: datetime | str | None, tz: str) -> str | None:
    """An instant (aware datetime, or ISO 8601 text; naive means UTC) as ISO 8601 in
    ``tz`` to the second; None stays None."""
    if value is None or value == "":
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Names:
    """Camera, ward and zone names by id, the language kinds are written in and the time
    zone instants are written in."""

    lang: str = "vi"
    tz: str = "Asia/Ho_Chi_Minh"
    cameras: Mapping[str, str] = field(default_factory=dict)
    wards: Mapping[str, str] = field(default_factory=dict)
    zones: Mapping[str, str] = field(default_factory=dict)

    def kind(self, code: str) -> str:
        """The kind in this language."""
        return kind_label(code, self.lang)

    def time(self, value: datetime | str | None) -> str | None:
        """The instant as ISO 8601 in this time zone, to the second."""
        return local_iso(value, self.tz)

    def camera(self, ident: str | None) -> str:
        """The camera's name ('' when unknown)."""
        return self.cameras.get(ident, "") if ident else ""

    def ward(self, ident: str | None) -> str:
        """The ward's name ('' when none)."""
        return self.wards.get(ident, "") if ident else ""

    def zone(self, ident: str | None) -> str:
        """The zone's name ('' when none)."""
        return self.zones.get(ident, "") if ident else ""


def load_names(conn: psycopg.Connection, lang: str, tz: str) -> Names:
    """Every camera, ward and zone name (a few hundred rows at most), for ``lang`` and
    ``tz``."""
    def table(query: str) -> dict[str, str]:
        return dict(conn.execute(query).fetchall())
    return Names(lang, tz, table("SELECT id, name FROM cameras"),
                 table("SELECT id, name FROM wards"), table("SELECT id, name FROM zones"))


def request_names(conn: psycopg.Connection) -> Names:
    """:func:`load_names` in the request's language and the app's display time zone."""
    from flask import current_app

    from webapp.i18n import current_locale
    return load_names(conn, current_locale(), current_app.config["BABEL_DEFAULT_TIMEZONE"])
