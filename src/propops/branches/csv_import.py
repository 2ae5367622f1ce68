"""Branch CSV import (``action=bulk_import``) and its template: all or nothing, every row checked
first. No HTTP here; never commits.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from propops.branches.models import Branch
from propops.branches.repository import code_taken
from propops.branches.rules import RuleSpec, check_hours, replace_rules
from propops.branches.service import clean_code, clean_postcode
from propops.core import audit
from propops.core.csvcells import csv_text
from propops.core.errors import InvalidInput, PayloadTooLarge
from propops.core.validation import clean_email, clean_phone, clean_text
from propops.lookups.service import Lookups, load_lookups

CSV_COLUMNS = [
    "name",
    "code",
    "address_line1",
    "address_line2",
    "town",
    "postcode",
    "phone",
    "email",
    "sla_emergency_hours",
    "sla_high_hours",
    "sla_medium_hours",
    "sla_low_hours",
]
CSV_REQUIRED = {"name", "code"}
CSV_SLA_COLUMNS = {"sla_emergency_hours": 1, "sla_high_hours": 2, "sla_medium_hours": 3, "sla_low_hours": 4}
CSV_MAX_BYTES = 1024 * 1024  # a branch list is a few kilobytes; anything near a megabyte is a wrong file
CSV_MAX_ROWS = 5000


def csv_template() -> str:
    return csv_text([CSV_COLUMNS])


def _decode_csv(raw: bytes) -> str:
    if len(raw) > CSV_MAX_BYTES:
        raise PayloadTooLarge(f"csv_file is larger than {CSV_MAX_BYTES // 1024} KB.")
    if not raw.strip():
        raise InvalidInput.field("csv_file", "is empty")
    if b"\x00" in raw:
        raise InvalidInput.field("csv_file", "must be a UTF-8 text CSV file, not a binary file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput.field("csv_file", "must be UTF-8 encoded") from None


async def bulk_import(
    session: AsyncSession, raw: bytes, *, organisation_id: int, actor_id: int | None
) -> dict[str, Any]:
    """All or nothing: every row is checked first; any row error imports no branch at all.

    Blank lines are skipped. Duplicate codes inside the file or against existing branches are row
    errors. The optional ``sla_*_hours`` columns become the branch's generic rules.
    """
    text = _decode_csv(raw)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InvalidInput.field("csv_file", f"is not valid CSV ({exc})") from None
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = sorted(CSV_REQUIRED - set(columns))
    if unknown or missing or len(set(columns)) != len(columns):
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown[:10])}")
        if len(set(columns)) != len(columns):
            parts.append("repeated column names")
        raise InvalidInput.field(
            "csv_file", "header row " + "; ".join(parts) + f" (expected: {', '.join(CSV_COLUMNS)})"
        )
    lookups = await load_lookups(session)
    errors: list[dict[str, Any]] = []
    prepared: list[tuple[int, dict[str, Any], list[RuleSpec]]] = []
    skipped = 0
    codes_in_file: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if len(prepared) + len(errors) + skipped >= CSV_MAX_ROWS:
                raise InvalidInput.field("csv_file", f"has more than {CSV_MAX_ROWS} rows")
            if not any(cell.strip() for cell in record):
                skipped += 1
                continue
            if len(record) != len(columns):
                errors.append(
                    {"row": line, "field": "row", "message": f"has {len(record)} cells, expected {len(columns)}"}
                )
                continue
            row = dict(zip(columns, record, strict=True))
            try:
                values, specs = _import_row(row, lookups)
            except InvalidInput as exc:
                err = exc.errors[0] if exc.errors else {"field": "row", "message": exc.message}
                errors.append({"row": line, **err})
                continue
            code = values["code"]
            if code in codes_in_file:
                errors.append(
                    {"row": line, "field": "code", "message": f"repeats the code of line {codes_in_file[code]}"}
                )
                continue
            codes_in_file[code] = line
            prepared.append((line, values, specs))
    except csv.Error as exc:
        raise InvalidInput.field("csv_file", f"is not valid CSV at line {reader.line_num} ({exc})") from None
    if codes_in_file:
        taken = set((await session.execute(code_taken(organisation_id, list(codes_in_file)))).scalars())
        for code in sorted(taken, key=lambda c: codes_in_file[c]):
            errors.append({"row": codes_in_file[code], "field": "code", "message": f"{code} already exists"})
    if errors:
        errors.sort(key=lambda e: e["row"])
        raise InvalidInput(
            f"No branches imported: {len(errors)} row(s) have errors. Fix them and upload the file again.",
            errors=[{"field": f"row {e['row']}: {e['field']}", "message": e["message"]} for e in errors[:200]],
        )
    if not prepared:
        raise InvalidInput.field("csv_file", "contains no branch rows")
    for _, values, specs in prepared:
        branch = Branch(organisation_id=organisation_id, is_active=True, **values)
        session.add(branch)
        await session.flush()
        if specs:
            await replace_rules(session, branch.id, specs)
    await audit.record(
        session,
        organisation_id=organisation_id,
        user_id=actor_id,
        action="bulk_import",
        entity="branch",
        after={"imported": len(prepared), "codes": list(codes_in_file)[:100]},
    )
    return {"imported": len(prepared), "skipped": skipped, "errors": []}


def _import_row(row: dict[str, str], lookups: Lookups) -> tuple[dict[str, Any], list[RuleSpec]]:
    values: dict[str, Any] = {
        "name": clean_text(row.get("name"), "name", 120, required=True),
        "code": clean_code(row.get("code")),
        "address_line1": clean_text(row.get("address_line1"), "address_line1", 200),
        "address_line2": clean_text(row.get("address_line2"), "address_line2", 200),
        "town": clean_text(row.get("town"), "town", 100),
        "postcode": clean_postcode(row.get("postcode")),
        "phone": clean_phone(row.get("phone")),
        "email": clean_email(row.get("email")),
    }
    specs: list[RuleSpec] = []
    for column, priority_id in CSV_SLA_COLUMNS.items():
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        if not re.fullmatch(r"[0-9]{1,6}", raw):
            raise InvalidInput.field(column, "must be a whole number of hours")
        if priority_id in lookups.priorities:
            specs.append(RuleSpec(priority_id, None, check_hours(int(raw), column)))
    return values, specs
