"""Shared parameter types, so the OpenAPI document states exactly what each endpoint accepts.

A value the schema allows is then never refused with 400 for its shape, and a malformed one is
refused by validation (400 naming the field) before any handler runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import Field, StrictInt

UUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
UUID_EXAMPLE = "880e8400-e29b-41d4-a716-446655440001"

# Optional query/body uuid; an empty query value is refused like any other malformed uuid.
UuidQuery = Annotated[str | None, Query(pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])]
UuidStr = Annotated[str, Field(pattern=UUID_PATTERN, examples=[UUID_EXAMPLE])]

# What ``propops.geo.postcodes.parse_postcode`` accepts: a unit (SW1A 1AA, space optional), a
# sector (SW1A 1) or a district (SW1A), any case, spaces around. Whether it *exists* is the
# geocoder's business (400 "unknown postcode"); the custom format names that for fuzzers.
POSTCODE_PATTERN = r"^ *[A-Za-z]{1,2}[0-9][A-Za-z0-9]?( *[0-9][ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}| +[0-9])? *$"
POSTCODE_FORMAT = "uk-postcode"
POSTCODE_SCHEMA = {"format": POSTCODE_FORMAT}
PostcodeQuery = Annotated[
    str | None,
    Query(
        pattern=POSTCODE_PATTERN,
        max_length=16,
        json_schema_extra=POSTCODE_SCHEMA,
        description="Unit (SW1A 1AA), sector (SW1A 1) or district (SW1A); 400 if malformed or unknown.",
        examples=["SW1A 1AA"],
    ),
]
PostcodeStr = Annotated[
    str, Field(pattern=POSTCODE_PATTERN, max_length=16, json_schema_extra=POSTCODE_SCHEMA, examples=["SW1A 1AA"])
]

# Free-text filters: at most 100 characters, no control characters (``propops.core.validation.clean_search``).
SEARCH_PATTERN = r"^[^\x00-\x1f\x7f]*$"
SearchQuery = Annotated[
    str | None, Query(max_length=100, pattern=SEARCH_PATTERN, description="Free-text filter (contains).")
]
# A calendar day as YYYY-MM-DD; empty means no bound.
DayQuery = Annotated[str | None, Query(pattern=r"^$|^\d{4}-\d{2}-\d{2}$", examples=["2026-06-01"])]

# A database id in a JSON body: a JSON integer only. Lax validation would take ``true`` as 1
# (``priority_id: true`` picked Emergency) and ``1.0`` or ``"1"`` as 1; each is a 400 naming the field.
StrictId = Annotated[StrictInt, Field(ge=1, le=2_147_483_647)]
