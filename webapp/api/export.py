"""Exports of search results as files: CSV that Excel opens as it should, and JSON.

CSV is UTF-8 with a byte-order mark (Excel then reads Vietnamese names correctly) and
every text cell that a spreadsheet would take for a formula (``=``, ``+``, ``-`` or ``@``
first, also after leading spaces, tabs or line breaks, which spreadsheets skip; or a tab,
carriage return or line feed first) is prefixed with ``'`` — a camera name or a note typed
by someone cannot run in the analyst's spreadsheet. Numbers stay numbers. Every CSV vigil
writes (these responses, the hotspot report's table) goes through :func:`csv_text`.
Callers audit the export (what, filters, row count) before they return the response.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

from flask import Response

#: A formula starts with one of these once leading whitespace is skipped.
FORMULA_START = ("=", "+", "-", "@")
#: A cell starting with one of these is prefixed whatever follows.
CONTROL_START = ("\t", "\r", "\n")
BOM = "\ufeff"


def safe_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet evaluates: text starting like a formula (also after
    spaces or line breaks) gets a leading ``'``; None and NaN become empty; numbers and
    booleans pass unchanged."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, str) and (value.startswith(CONTROL_START)
                                   or value.lstrip().startswith(FORMULA_START)):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """``rows`` under ``header`` as CSV text: BOM first, every cell through
    :func:`safe_cell`."""
    buf = io.StringIO()
    buf.write(BOM)
    out = csv.writer(buf)
    out.writerow([safe_cell(h) for h in header])
    for row in rows:
        out.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


def write_csv(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """:func:`csv_text` written to ``path`` (a file a person opens in a spreadsheet)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(header, rows).encode("utf-8"))
    return path


def _attachment(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]],
                 filename: str) -> Response:
    """``rows`` under ``header`` as a downloadable CSV file (UTF-8 with BOM, safe cells)."""
    return _attachment(Response(csv_text(header, rows).encode("utf-8"),
                                content_type="text/csv; charset=utf-8"), filename)


def json_response(doc: dict[str, Any], filename: str) -> Response:
    """``doc`` as a downloadable JSON file (UTF-8, not ASCII-escaped)."""
    body = json.dumps(doc, ensure_ascii=False, indent=1)
    return _attachment(Response(body.encode("utf-8"), mimetype="application/json"),
                       filename)
