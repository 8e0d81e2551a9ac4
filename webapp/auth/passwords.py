"""Passwords: scrypt hashes (Werkzeug over ``hashlib.scrypt``) and a minimum strength."""

from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 256
#: A few of the most used passwords (and Vietnamese favourites); longer ones than
#: MIN_LENGTH only matter, the rest fail on length already.
COMMON = frozenset({
    "123456789012", "1234567890123", "password1234", "password12345", "qwertyuiop12",
    "qwertyuiopasdf", "iloveyou1234", "admin1234567", "administrator", "matkhau12345",
    "matkhau123456", "123456789abc", "abc123456789", "111111111111", "000000000000",
    "passwordpassword", "congan123456", "vietnam12345", "vietnam123456",
})
_DUMMY = generate_password_hash("not a real password", method="scrypt")


def hash_password(password: str) -> str:
    """The stored form of ``password`` (scrypt, N=2^15, r=8, p=1, random salt)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; takes the same time when there is no hash."""
    if not password_hash:
        check_password_hash(_DUMMY, password)
        return False
    try:
        return check_password_hash(password_hash, password)
    except ValueError:             # an unknown or damaged hash
        return False


def strength_problem(password: object, user_name: str = "") -> str | None:
    """Why ``password`` is too weak, or None when it is strong enough.

    At least 12 characters (at most 256), at least 3 distinct kinds of character among
    lower case, upper case, digits and others, or 16+ characters of any kind; not one of
    the commonest passwords, not the user name, not one repeated character.
    """
    if not isinstance(password, str):
        return "the password must be a string"
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    lowered = password.lower()
    if lowered in COMMON or len(set(password)) < 5:
        return "too common or too repetitive"
    if user_name and user_name.lower() in lowered:
        return "must not contain the user name"
    kinds = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                 any(c.isdigit() for c in password),
                 any(not c.isalnum() for c in password)))
    if kinds < 3 and len(password) < 16:
        return "use 3 of: lower case, upper case, digits, symbols (or 16+ characters)"
    return None
