"""Evidence images, served only from ``EVIDENCE_ROOT`` (settings ``evidence_root``).

``GET /evidence/<path>`` where ``path`` is an event's ``evidence.path`` (relative to the
root). The path is resolved and must stay inside the root (no ``..``, no absolute paths,
no symlinks out); only image files are served. Evidence holds faces and plates:
the ``evidence`` permission (not planners, not the wall), and unscoped users only — a
ward-scoped commander opens ``/api/v1/events/<id>/evidence``, which checks the ward.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, send_file

from webapp.access import allow, audit, current_principal
from webapp.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("evidence", __name__, url_prefix="/evidence")
_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
          ".webp": "image/webp"}


def resolve_evidence(root: Path, relative: str) -> Path:
    """The file for ``relative`` under ``root``; ApiError 404 when it escapes or is absent."""
    root = root.resolve()
    if "\x00" in relative or relative.startswith(("/", "\\")):
        raise ApiError(404, "evidence not found")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or candidate == root:
        log.warning("refused evidence path outside the root: %r", relative)
        raise ApiError(404, "evidence not found")
    if candidate.suffix.lower() not in _TYPES or not candidate.is_file():
        raise ApiError(404, "evidence not found")
    return candidate


@bp.get("/<path:relative>")
@allow("evidence")
def evidence_file(relative: str) -> Response:
    """One evidence image."""
    principal = current_principal()
    if principal is None or principal.wards is not None:
        raise ApiError(403, "ward-scoped users open evidence through "
                            "/api/v1/events/<id>/evidence")
    path = resolve_evidence(Path(current_app.config["EVIDENCE_ROOT"]), relative)
    log.info("evidence view: %s by %s", relative, principal.name)
    audit("evidence.view", relative)
    response = send_file(path, mimetype=_TYPES[path.suffix.lower()], max_age=0,
                         conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
