"""Recognition fixtures: the OCR engine and the face models, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def plate_reader():
    """rapidocr with the PP-OCR models from its wheel."""
    pytest.importorskip("rapidocr", reason="the 'recognition' extra is not installed")
    from analytics.recognition.plates import PlateReader

    return PlateReader()
