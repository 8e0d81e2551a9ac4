"""Languages: Vietnamese first, English second (Flask-Babel), times in Asia/Ho_Chi_Minh.

Catalogues live in the repo as ``webapp/translations/<lang>/LC_MESSAGES/messages.po``;
the app compiles them to ``.mo`` under ``state_dir/translations`` at start (only when a
``.po`` is newer), so nothing compiled is committed. Pages use ``_()`` / ``gettext``; the
JavaScript fetches ``GET /i18n/<lang>.json`` — every message of the catalogue plus the
event-kind labels, the locale and the display time zone — and must not hard-code text.

The language comes from ``?lang=vi|en`` on any page (remembered in the session; the UI's
switch uses ``GET /i18n/switch?lang=en&next=/``), else the session, else
``settings.locale`` (``vi``).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, Response, current_app, redirect, request, session
from flask_babel import Babel, get_locale

from store.model import EVENT_KINDS
from webapp.access import PUBLIC, allow
from webapp.errors import ApiError

log = logging.getLogger(__name__)

LOCALES = ("vi", "en")
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


def _select_locale() -> str:
    lang = request.args.get("lang")
    if lang in LOCALES:
        session["lang"] = lang
        return lang
    lang = session.get("lang")
    return lang if lang in LOCALES else current_app.config["BABEL_DEFAULT_LOCALE"]


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
    return redirect(_safe_next(request.args.get("next")))


def init_app(app: Flask) -> None:
    """Compile the catalogues and bind Flask-Babel."""
    target = compile_catalogues(app.config["SETTINGS"].state_dir.resolve() / "translations")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(target)
    babel.init_app(app, locale_selector=_select_locale)
    app.register_blueprint(bp)
