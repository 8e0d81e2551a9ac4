"""Helpers shared by the recognition tests (a uniquely named module, not a conftest)."""

from __future__ import annotations

import gzip
import shutil
import tempfile
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

OPENCV_DATA = [Path("/usr/share/doc/opencv-doc/examples/data"),
               Path("/usr/share/opencv4/samples/data")]


def opencv_sample(name: str) -> Path:
    """A file from Debian's opencv-doc sample data, or skip saying how to get it."""
    for folder in OPENCV_DATA:
        if (folder / name).is_file():
            return folder / name
        if (folder / (name + ".gz")).is_file():
            out = Path(tempfile.mkdtemp(prefix="vigil-media-")) / name
            with gzip.open(folder / (name + ".gz")) as src, out.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            return out
    pytest.skip(f"{name} not found: apt-get install opencv-doc (scripts/apt-packages.txt)")


PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
USERS = {"admin": {"password_hash": _HASH, "role": "admin"},
         "commander": {"password_hash": _HASH, "role": "commander", "wards": ["ward-a"]},
         "operator": {"password_hash": _HASH, "role": "operator"},
         "planner": {"password_hash": _HASH, "role": "planner"}}


def client_for(app, role: str):
    """A test client signed in as ``role``; its CSRF token in ``client.csrf``."""
    client = app.test_client()
    r = client.post("/api/v1/session", json={"username": role, "password": PASSWORD})
    assert r.status_code == 200, r.json
    client.csrf = r.json["csrf_token"]
    return client
