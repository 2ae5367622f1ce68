"""The generic input rules every domain applies to what a caller sends: identifiers, free text,
search terms, emails and phone numbers.

One home for each rule, so a field means the same thing on every endpoint; each failure is an
``InvalidInput`` naming the field (a 400 in the envelope) before anything reaches the database.
Domain-specific formats (a branch code, a certificate file name) stay with their domain.
"""

from __future__ import annotations

import re
from typing import Any

from propops.core.errors import InvalidInput

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()-]{6,40}$")
EMAIL_RE = re.compile(
    r"^[^@\s<>\"\x00-\x1f\x7f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
MAX_SEARCH = 100


def check_uuid(value: str | None, field: str) -> str | None:
    """A malformed identifier is a 400 (and never reaches the database as odd bytes)."""
    if value is None:
        return None
    if not UUID_RE.match(value):
        raise InvalidInput.field(field, "must be a UUID")
    return value.lower()


def clean_text(value: str | None, field: str, max_len: int, *, required: bool = False) -> str | None:
    """Trimmed text stored verbatim (markup and quotes included); control characters are refused."""
    if value is None or value.strip() == "":
        if required:
            raise InvalidInput.field(field, "is required")
        return None
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput.field(field, f"must be at most {max_len} characters")
    if CONTROL_RE.search(value):
        raise InvalidInput.field(field, "must not contain control characters")
    return value


def check_form_fields(form: Any) -> None:
    """``clean_text``'s control-character rule for every field of a parsed multipart or urlencoded
    form, and for the name of every uploaded file (its content is not text; its name is stored):
    the same rule JSON bodies follow, so no channel stores what another refuses."""
    for name, value in form.multi_items():
        if CONTROL_RE.search(name):
            raise InvalidInput.field("form", "field names must not contain control characters")
        if isinstance(value, str):
            if CONTROL_RE.search(value):
                raise InvalidInput.field(name, "must not contain control characters")
        elif isinstance(getattr(value, "filename", None), str) and CONTROL_RE.search(value.filename):
            raise InvalidInput.field(name, "file name must not contain control characters")


def clean_search(value: str | None, field: str = "search") -> str | None:
    """Free-text filter: at most 100 characters, no control characters (PostgreSQL refuses NUL)."""
    if value is None or not value.strip():
        return None
    if len(value) > MAX_SEARCH:
        raise InvalidInput.field(field, f"must be at most {MAX_SEARCH} characters")
    if CONTROL_RE.search(value):
        raise InvalidInput.field(field, "must not contain control characters")
    return value.strip()


def like_pattern(text: str) -> str:
    """Search text matched literally (use with ``escape="\\\\"``): % and _ typed by a user are not
    wildcards."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str, field_name: str = "email") -> str:
    value = normalise_email(email)
    if len(value) > 254 or not EMAIL_RE.match(value):
        raise InvalidInput.field(field_name, "must be a valid email address")
    return value


def clean_email(value: str | None, field: str = "email", *, required: bool = False) -> str | None:
    """An optional email (blank is None), validated and lower-cased."""
    if value is None or not value.strip():
        if required:
            raise InvalidInput.field(field, "is required")
        return None
    if CONTROL_RE.search(value):
        raise InvalidInput.field(field, "must be a valid email address")
    return validate_email(value, field)


def clean_phone(value: str | None, field: str = "phone") -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not PHONE_RE.match(value):
        raise InvalidInput.field(field, "must be a phone number (digits, spaces, + ( ) -)")
    return value
