"""Test users and tokens of the map application tests (one user per role)."""

from werkzeug.security import generate_password_hash

PASSWORD = "correct horse battery"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")  # cheap, tests only
WALL_TOKEN = "wall-token-for-tests-0123456789"
WARD_A, WARD_B = "ward-a", "ward-b"
USERS = {
    "admin": {"password_hash": _HASH, "role": "admin"},
    "commander": {"password_hash": _HASH, "role": "commander", "wards": [WARD_A]},
    "operator": {"password_hash": _HASH, "role": "operator"},
    "planner": {"password_hash": _HASH, "role": "planner"},
}
ROLES = ("admin", "commander", "operator", "planner", "wall")
