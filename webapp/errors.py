"""JSON errors for the API: one helper, one exception, clear messages, right codes.

Every error under ``/api/`` (and every refusal of the access layer there) is
``{"error": {"status": 404, "code": "not_found", "message": "camera 'x' not found"}}``,
with ``"details"`` when there is more to say (e.g. which query parameter is bad).
A browser asking for a page gets the same HTTP errors (404, 405, 413 for an upload
over the limit, …) as a page in its language (``templates/error.html``, messages in
the ``errors`` catalogue: ``webapp/translations/vi/LC_MESSAGES/errors.po``). Headers the
error carries (``Allow`` on a 405, ``Retry-After``) are kept either way.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, render_template, request, url_for
from flask_babel import Domain, format_decimal
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger(__name__)

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large",
          415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests",
          500: "server_error", 503: "unavailable"}


class ApiError(Exception):
    """An error the API reports to the client as JSON with ``status``."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def error_response(status: int, message: str, **details: Any) -> Response:
    """The one way the API says no: a JSON body and the status code."""
    body: dict[str, Any] = {"status": status, "code": _CODES.get(status, "error"),
                            "message": message}
    if details:
        body["details"] = details
    response = jsonify(error=body)
    response.status_code = status
    return response


def wants_json() -> bool:
    """Whether this request should get JSON errors (API, tiles, sockets' polling)."""
    return request.path.startswith(("/api/", "/evidence/", "/tiles/", "/i18n/")) \
        or request.accept_mimetypes.best == "application/json"


def _on_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, **exc.details)


#: The catalogue of the error pages (English is the message id).
domain = Domain(domain="errors")


def _size(n: int) -> str:
    """``n`` bytes for a person: "80 MB", "1,5 MB", "64 KB" (the locale's decimal sign;
    whole numbers from 10 up)."""
    value, unit = (n / (1 << 20), "MB") if n >= 1 << 20 else (n / 1024, "KB")
    number = round(value) if value >= 10 else round(value, 1)
    return f"{format_decimal(number, format='#,##0.#')} {unit}"


def _page_text(status: int) -> tuple[str, str]:
    """The title and the explanation of an error page, in the request's language."""
    _ = domain.gettext
    limit = request.max_content_length
    if status == 413 and limit:
        return _("Upload too large"), _(
            "What you sent is larger than %(limit)s, the most this page accepts. "
            "Go back and send fewer or smaller files.", limit=_size(limit))
    texts = {
        400: (_("Bad request"), _("The request could not be understood. Go back and try "
                                  "again.")),
        403: (_("Not allowed"), _("Your account may not open this page.")),
        404: (_("Page not found"), _("There is no page at this address. Check the "
                                     "address, or go back to the map.")),
        405: (_("Not possible here"), _("This address does not accept this kind of "
                                        "request. Go back and use the page's buttons.")),
        413: (_("Upload too large"), _("What you sent is larger than this page accepts. "
                                       "Go back and send fewer or smaller files.")),
        414: (_("Address too long"), _("The address is too long. Go back and narrow the "
                                       "search.")),
        429: (_("Too many requests"), _("Too many requests in a short time. Wait a minute "
                                        "and try again.")),
    }
    return texts.get(status, (_("Something went wrong"), _(
        "The server could not answer this request (error %(status)s). Go back and try "
        "again; if it happens again, tell the administrator.", status=status)))


def _back() -> str:
    """Where the page's "Back" link goes: the page the browser came from on this
    site, else the map."""
    from urllib.parse import urlsplit

    from webapp.access import safe_next
    ref = urlsplit(request.referrer or "")
    if ref.netloc and ref.netloc != request.host:
        return "/"
    return safe_next(ref.path + (f"?{ref.query}" if ref.query else "")) if ref.path else "/"


def error_page(status: int) -> Response:
    """A browser's error page in its language (Vietnamese first, ``?lang=en``)."""
    from webapp.i18n import LOCALES, current_locale
    title, message = _page_text(status)
    back = _back()
    back_label = domain.gettext("Back to the map") if back == "/" else domain.gettext("Back")
    html = render_template(
        "error.html", status=status, title=title, message=message, back=back,
        back_label=back_label, lang=current_locale(),
        lang_urls={lang: url_for("i18n.switch", lang=lang, next=back) for lang in LOCALES})
    return Response(html, status=status, mimetype="text/html")


def _json_message(exc: HTTPException) -> tuple[str, dict[str, Any]]:
    limit = request.max_content_length
    if isinstance(exc, RequestEntityTooLarge) and limit:
        return (f"the request body is larger than {limit} bytes, the most this address "
                "accepts", {"max_bytes": limit})
    return exc.description or exc.name, {}


def _on_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if wants_json():
        message, details = _json_message(exc)
        response = error_response(status, message, **details)
    else:
        response = error_page(status)
    for name, value in exc.get_headers():       # Allow (405), Retry-After (429), …
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _on_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _on_http_error(exc)
    if isinstance(exc, psycopg.OperationalError):
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return error_response(503, "the database is unavailable; try again shortly")
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal server error; see the server log")


def init_app(app: Flask) -> None:
    """Route every error through :func:`error_response` for API clients."""
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(HTTPException, _on_http_error)
    app.register_error_handler(Exception, _on_unexpected)
