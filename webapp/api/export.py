"""Exports of search results as files: CSV that Excel opens as it should, and JSON.

CSV is UTF-8 with a byte-order mark (Excel then reads Vietnamese names correctly) and
every text cell that a spreadsheet would take for a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is prefixed with ``'`` — a camera name or a note
typed by someone cannot run in the analyst's spreadsheet. Numbers stay numbers. Callers
audit the export (what, filters, row count) before they return the response.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable, Sequence

from flask import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting like a formula gets a
    leading ``'``; None becomes empty; numbers and booleans pass unchanged."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _attachment(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]],
                 filename: str) -> Response:
    """``rows`` under ``header`` as a downloadable CSV file (UTF-8 with BOM, safe cells)."""
    buf = io.StringIO()
    buf.write(BOM)
    out = csv.writer(buf)
    out.writerow(header)
    for row in rows:
        out.writerow([safe_cell(v) for v in row])
    return _attachment(Response(buf.getvalue().encode("utf-8"),
                                content_type="text/csv; charset=utf-8"), filename)


def json_response(doc: dict[str, Any], filename: str) -> Response:
    """``doc`` as a downloadable JSON file (UTF-8, not ASCII-escaped)."""
    body = json.dumps(doc, ensure_ascii=False, indent=1)
    return _attachment(Response(body.encode("utf-8"), mimetype="application/json"),
                       filename)
