"""Languages: Vietnamese first, English second (Flask-Babel), times in Asia/Ho_Chi_Minh.

Catalogues live in the repo as ``webapp/translations/<lang>/LC_MESSAGES/messages.po``;
the app compiles them to ``.mo`` under ``state_dir/translations`` at start (only when a
``.po`` is newer), so nothing compiled is committed. Pages use ``_()`` / ``gettext``; the
JavaScript fetches ``GET /i18n/<lang>.json`` — every message of the catalogue plus the
event-kind labels, the locale and the display time zone — and must not hard-code text.

The language comes from ``?lang=vi|en`` on any page (remembered in the session; the UI's
switch uses ``GET /i18n/switch?lang=en&next=/``), else the session, else
``settings.locale`` (``vi``).

Server-rendered pages write instants with the ``local_time`` filter ("02/12/2026 09:15:03",
Asia/Ho_Chi_Minh, never UTC or microseconds) and codes (roles, audit actions, outcomes,
alert statuses) with ``label(group, code)``, in the page's language.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, Response, current_app, redirect, request, session
from flask_babel import Babel, format_decimal, get_locale, gettext

from store.model import EVENT_KINDS
from webapp.access import PUBLIC, allow
from webapp.errors import ApiError

log = logging.getLogger(__name__)

LOCALES = ("vi", "en")
#: How a page writes an instant: the local day and time to the second.
TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
#: Words for the codes a page shows (message ids of the ``messages`` catalogue).
LABELS: dict[str, dict[str, str]] = {
    "role": {"admin": "Administrator", "commander": "Commanding officer",
             "operator": "Duty officer", "planner": "Planning officer",
             "wall": "Map wall display"},
    "outcome": {"ok": "Done", "denied": "Denied", "failed": "Failed"},
    "status": {"new": "New", "acknowledged": "Acknowledged", "assigned": "Assigned",
               "resolved": "Resolved"},
    "action": {
        "login": "Sign-in", "login.lockout": "Sign-in locked", "logout": "Sign-out",
        "evidence.view": "Evidence viewed", "events.search": "Event search",
        "events.export": "Event export", "export": "Hotspot report",
        "alert.acknowledge": "Alert acknowledged", "alert.assign": "Alert assigned",
        "alert.resolve": "Alert resolved", "camera.change": "Camera changed",
        "user.add": "User added", "user.change": "User changed",
        "user.disable": "User disabled", "user.enable": "User enabled",
        "user.password": "Password changed", "token.add": "API token made",
        "token.revoke": "API token revoked", "kiosk.rotate": "Map wall token made",
        "kiosk.revoke": "Map wall token revoked", "plates.search": "Plate search",
        "plates.export": "Plate export", "hotlist.list": "Hotlist viewed",
        "hotlist.add": "Plate added to the hotlist",
        "hotlist.remove": "Plate removed from the hotlist",
        "watchlist.list": "Watchlist viewed", "watchlist.view": "Watchlist person viewed",
        "watchlist.photo": "Watchlist photo viewed", "watchlist.add": "Person added",
        "watchlist.enrol": "Person enrolled", "watchlist.remove": "Person removed",
        "incident.verdict": "Incident judged",
    },
}
CATALOGUES = Path(__file__).resolve().parent / "translations"
babel = Babel()
bp = Blueprint("i18n", __name__, url_prefix="/i18n")


def compile_catalogues(target: Path, source: Path = CATALOGUES) -> Path:
    """Compile every ``.po`` under ``source`` to ``.mo`` under ``target`` when stale."""
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as src:
            catalogue = read_po(src, locale=po.parent.parent.name)
        tmp = mo.with_suffix(".tmp")
        with tmp.open("wb") as out:
            write_mo(out, catalogue)
        tmp.replace(mo)
        log.debug("compiled %s", mo)
    return target


@lru_cache(maxsize=8)
def _messages(po: Path, mtime: float) -> dict[str, str]:
    with po.open("rb") as src:
        catalogue = read_po(src)
    return {m.id: m.string for m in catalogue if m.id and isinstance(m.id, str) and m.string}


def catalogue(lang: str) -> dict[str, Any]:
    """The JSON catalogue the JavaScript uses for ``lang``."""
    po = CATALOGUES / lang / "LC_MESSAGES" / "messages.po"
    messages = _messages(po, po.stat().st_mtime)
    label = "label_vi" if lang == "vi" else "label_en"
    return {
        "locale": lang,
        "timezone": current_app.config["BABEL_DEFAULT_TIMEZONE"],
        "messages": messages,
        "kinds": {code: getattr(spec, label) for code, spec in EVENT_KINDS.items()},
    }


def current_locale() -> str:
    """The request's language code."""
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def local_time(value: datetime | str | None) -> str:
    """An instant (a datetime, or ISO 8601 text) as the command centre reads it:
    "02/12/2026 09:15:03" in the display time zone; "" for none."""
    if value is None or value == "":
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return when.astimezone(zone).strftime(TIME_FORMAT)


def label(group: str, code: str | None) -> str:
    """A code of ``group`` (role, action, outcome, status) in words of the page's
    language; the code itself where there are none."""
    words = LABELS.get(group, {}).get(code or "")
    return gettext(words) if words else (code or "")


#: The chosen language is kept in a cookie of its own, written only by the responses that
#: choose it (``?lang=``, /i18n/switch). The session cookie is written back by every
#: response, so a request already under way when the language changed (a poll, an XHR)
#: would put the old choice back.
LANG_COOKIE = "vigil_lang"


def _select_locale() -> str:
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    for lang in (request.cookies.get(LANG_COOKIE), session.get("lang")):
        if lang in LOCALES:
            return lang
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _remember_language(response: Response, lang: str | None = None) -> Response:
    """Set the language cookie when this request chose a language."""
    lang = lang or request.args.get("lang")
    if lang in LOCALES and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True,
                            samesite="Lax",
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


@bp.get("/<lang>.json")
@allow(PUBLIC)
def catalogue_json(lang: str) -> Response:
    """Messages for the JavaScript in ``lang``."""
    if lang not in LOCALES:
        raise ApiError(404, f"no catalogue for language {lang!r} (known: {', '.join(LOCALES)})")
    response = current_app.json.response(catalogue(lang))
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/switch")
@allow(PUBLIC)
def switch() -> Response:
    """Remember ``?lang=`` and go back to ``?next=`` (a local path)."""
    from webapp.access import _safe_next
    lang = request.args.get("lang")
    if lang not in LOCALES:
        raise ApiError(400, f"lang must be one of {', '.join(LOCALES)}")
    session["lang"] = lang
    return redirect(_safe_next(request.args.get("next")))  # cookie: _remember_language


def init_app(app: Flask) -> None:
    """Compile the catalogues and bind Flask-Babel."""
    target = compile_catalogues(app.config["SETTINGS"].state_dir.resolve() / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    babel.init_app(app, locale_selector=_select_locale)
    app.add_template_filter(local_time, "local_time")
    app.add_template_global(label, "label")
    app.add_template_filter(format_decimal, "number")
    app.register_blueprint(bp)
    app.after_request(_remember_language)
