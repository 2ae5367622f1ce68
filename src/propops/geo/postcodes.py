"""UK postcode parsing: unit ("SW1A 1AA"), sector ("SW1A 1") and district/outcode ("SW1A").

Parsing only decides whether a string is *shaped* like a postcode; whether it exists is the
geocoder's job. The two failures are different 400s, so a client can tell a typo from a postcode
our data does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from propops.core.errors import InvalidInput

Precision = Literal["unit", "sector", "district"]

# Outcode: area (1-2 letters) + district (digit, then optional digit or letter).
_OUT = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_UNIT = re.compile(rf"^({_OUT}) ?([0-9])([A-Z]{{2}})$")
_SECTOR = re.compile(rf"^({_OUT}) ([0-9])$")
_DISTRICT = re.compile(rf"^({_OUT})$")
_ALLOWED = re.compile(r"^[A-Z0-9 ]+$")
# Letters never used in the inward code's last two positions (Royal Mail PAF rules).
_BAD_INWARD = set("CIKMOV")
MAX_INPUT = 16


class UnknownPostcode(InvalidInput):
    """A well-formed postcode that our postcode data does not contain."""

    def __init__(self, postcode: str) -> None:
        message = (
            f"postcode: {postcode} is a valid UK postcode format but is not in the postcode data "
            "(it may be new, terminated or non-geographic)"
        )
        super().__init__(message, errors=[{"field": "postcode", "message": "unknown postcode"}])


@dataclass(frozen=True)
class ParsedPostcode:
    """A normalised postcode and the parts a fallback geocoder needs."""

    kind: Precision
    outcode: str
    sector: str | None
    unit: str | None

    @property
    def text(self) -> str:
        return self.unit or self.sector or self.outcode


def normalise(raw: str) -> str:
    """Upper case, single spaces, trimmed: the one form used as a key everywhere."""
    return " ".join(raw.upper().split())


def parse_postcode(raw: object, field: str = "postcode") -> ParsedPostcode:
    """Parse a unit, sector or district postcode, or raise ``InvalidInput`` saying what is wrong."""
    if not isinstance(raw, str):
        raise InvalidInput.field(field, "must be a string")
    if len(raw) > MAX_INPUT * 2:
        raise InvalidInput.field(field, f"is too long (a postcode has at most {MAX_INPUT} characters)")
    text = normalise(raw)
    if not text:
        raise InvalidInput.field(field, "is empty")
    if len(text) > MAX_INPUT:
        raise InvalidInput.field(field, f"is too long (a postcode has at most {MAX_INPUT} characters)")
    if not _ALLOWED.match(text):
        raise InvalidInput.field(field, "may contain only letters, digits and one space")
    if m := _UNIT.match(text):
        out, digit, letters = m.groups()
        if set(letters) & _BAD_INWARD:
            raise InvalidInput.field(
                field, "is not a valid UK postcode: the last two letters never use C, I, K, M, O or V"
            )
        return ParsedPostcode("unit", out, f"{out} {digit}", f"{out} {digit}{letters}")
    if m := _SECTOR.match(text):
        out, digit = m.groups()
        return ParsedPostcode("sector", out, f"{out} {digit}", None)
    if _DISTRICT.match(text):
        return ParsedPostcode("district", text, None, None)
    raise InvalidInput.field(
        field,
        "is not a UK postcode: expected a full postcode (SW1A 1AA), a sector (SW1A 1) or a district (SW1A)",
    )
