"""The JSON API under ``/api/v1``: one blueprint, one module per area.

``cameras`` (GeoJSON, detail, timeline, health), ``events`` (filters, keyset paging,
evidence), ``areas`` (wards, zones, per-ward series and counts, heatmaps), ``alerts``
(acknowledge / assign / resolve, broadcast live). Every route states its permission
with :func:`webapp.access.allow`; errors go through :mod:`webapp.errors`; the
OpenAPI document (:mod:`webapp.api.openapi`) describes them all.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from webapp.access import allow
from webapp.api.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
@allow("view")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return current_app.json.response(openapi_document())


from webapp.api import alerts, areas, cameras, events  # noqa: E402,F401  (routes)
