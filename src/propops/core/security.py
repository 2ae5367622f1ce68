"""Passwords (argon2), opaque bearer tokens stored as keyed hashes, and session-bound CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both failure paths cost one argon2 verify.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """256 random bits as 64 hex characters, the shape the reference documents."""
    return secrets.token_hex(32)


def token_hash(secret_key: str, token: str) -> str:
    """Keyed hash of a bearer token; a stolen database alone cannot be replayed as tokens."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def csrf_token_for(secret_key: str, session_hash: str) -> str:
    """CSRF token derived from the session: valid exactly as long as that session, unique to it."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_hash.encode(), hashlib.sha256).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_password() -> str:
    return secrets.token_urlsafe(12)
