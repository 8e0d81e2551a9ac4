"""JSON errors for the API: one helper, one exception, clear messages, right codes.

Every error under ``/api/`` (and every refusal of the access layer there) is
``{"error": {"status": 404, "code": "not_found", "message": "camera 'x' not found"}}``,
with ``"details"`` when there is more to say (e.g. which query parameter is bad).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

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


def _on_http_error(exc: HTTPException) -> Response | HTTPException:
    if not wants_json():
        return exc
    return error_response(exc.code or 500, exc.description or exc.name)


def _on_unexpected(exc: Exception) -> Response | HTTPException:
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
