"""Branch and SLA-rule logic. No HTTP here; never commits.

Hooks for the jobs issue (both are called by this module and by jobs):
- ``open_job_counts(session, branch_ids)``: open jobs per branch (one grouped query).
- ``sla_target_hours(session, branch_id, priority_id, job_type_id)``: the SLA target that applies.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from propops.agents.models import Agent, AgentBranch
from propops.auth.models import STATUS_ACTIVE, User
from propops.auth.service import validate_email
from propops.branches.models import MAX_TARGET_HOURS, Branch, SlaRule
from propops.branches.schemas import BranchCreate, BranchUpdate, SlaRuleIn
from propops.core import audit
from propops.core.clock import iso
from propops.core.csvcells import csv_text
from propops.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from propops.core.pagination import Page
from propops.jobs.models import JobType, Priority

BRANCH_NOT_FOUND = "Branch not found."
PRIORITY_ALIASES = {"urgent": "emergency", "normal": "medium"}
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
PHONE_RE = re.compile(r"^\+?[0-9 ()-]{6,40}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")

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


def like_pattern(text: str) -> str:
    """Search text matched literally: % and _ typed by a user are not wildcards."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- hooks for the jobs issue -------------------------------------------------------------------


async def open_job_counts(session: AsyncSession, branch_ids: Iterable[int]) -> dict[int, int]:
    """Open jobs per branch id (missing ids mean 0): one grouped query over jobs whose status is
    open (``job_statuses.is_open``), served by the (branch_id, id) index."""
    ids = list(dict.fromkeys(branch_ids))
    counts = dict.fromkeys(ids, 0)
    if not ids:
        return counts
    from propops.jobs.models import Job, JobStatus

    rows = await session.execute(
        select(Job.branch_id, func.count(Job.id))
        .join(JobStatus, JobStatus.id == Job.status_id)
        .where(Job.branch_id.in_(ids), JobStatus.is_open.is_(True))
        .group_by(Job.branch_id)
    )
    for branch_id, count in rows:
        counts[int(branch_id)] = int(count)
    return counts


async def sla_target_hours(
    session: AsyncSession, branch_id: int, priority_id: int, job_type_id: int | None
) -> int | None:
    """The SLA target for a job: the branch's job-type rule if one exists, else its generic rule for
    the priority, else None (no SLA). One indexed query."""
    conditions = [SlaRule.branch_id == branch_id, SlaRule.priority_id == priority_id]
    if job_type_id is None:
        conditions.append(SlaRule.job_type_id.is_(None))
    else:
        conditions.append(or_(SlaRule.job_type_id == job_type_id, SlaRule.job_type_id.is_(None)))
    stmt = select(SlaRule.target_hours).where(*conditions).order_by(SlaRule.job_type_id.is_(None)).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- field validation ---------------------------------------------------------------------------


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


def clean_code(value: str | None, field: str = "code") -> str:
    code = (value or "").strip().upper()
    if not code:
        raise InvalidInput.field(field, "is required")
    if not CODE_RE.match(code):
        raise InvalidInput.field(field, "must be 1-20 letters, digits, '-' or '_' (e.g. LDN-N)")
    return code


def clean_postcode(value: str | None, field: str = "postcode") -> str | None:
    if value is None or not value.strip():
        return None
    compact = re.sub(r"\s+", "", value).upper()
    match = POSTCODE_RE.match(compact)
    if not match:
        raise InvalidInput.field(field, "must be a UK postcode such as N1 9GU")
    return f"{match.group(1)} {match.group(2)}"


def clean_phone(value: str | None, field: str = "phone") -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not PHONE_RE.match(value):
        raise InvalidInput.field(field, "must be a phone number (digits, spaces, + ( ) -)")
    return value


def clean_email(value: str | None, field: str = "email", *, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput.field(field, "is required")
        return None
    if CONTROL_RE.search(value):
        raise InvalidInput.field(field, "must be a valid email address")
    return validate_email(value, field)


def clean_search(value: str | None, field: str = "search") -> str | None:
    """Free-text filter: at most 100 characters, no control characters (PostgreSQL refuses NUL)."""
    if value is None or not value.strip():
        return None
    if len(value) > 100:
        raise InvalidInput.field(field, "must be at most 100 characters")
    if CONTROL_RE.search(value):
        raise InvalidInput.field(field, "must not contain control characters")
    return value.strip()


def check_uuid(value: str | None, field: str) -> str | None:
    """A malformed identifier is a 400 (and never reaches the database as odd bytes)."""
    if value is None:
        return None
    if not UUID_RE.match(value):
        raise InvalidInput.field(field, "must be a UUID")
    return value.lower()


# --- lookups ------------------------------------------------------------------------------------


@dataclass
class Lookups:
    """Priorities and job types (a handful of rows) resolved by id or case-insensitive name."""

    priorities: dict[int, str]
    priority_by_name: dict[str, int]
    job_types: dict[int, str]
    job_type_by_name: dict[str, int]
    trades: frozenset[int] = frozenset()

    def priority(self, value: int | str | None, field: str) -> int:
        if value is None or value == "":
            raise InvalidInput.field(field, "is required")
        if isinstance(value, int):
            if value in self.priorities:
                return value
        else:
            key = value.strip().lower()
            if key.isdigit() and int(key) in self.priorities:
                return int(key)
            key = PRIORITY_ALIASES.get(key, key)
            if key in self.priority_by_name:
                return self.priority_by_name[key]
        names = ", ".join(self.priorities.values())
        raise InvalidInput.field(field, f"unknown priority (use an id or one of: {names}, Urgent, Normal)")

    def job_type(self, value: int | str | None, field: str) -> int | None:
        if value is None or value == "":
            return None
        if isinstance(value, int):
            if value in self.job_types:
                return value
        else:
            key = value.strip().lower()
            if key.isdigit() and int(key) in self.job_types:
                return int(key)
            if key in self.job_type_by_name:
                return self.job_type_by_name[key]
        raise InvalidInput.field(field, "unknown job type")


_LOOKUPS = text(
    "SELECT 1, id, name FROM priorities UNION ALL SELECT 2, id, name FROM job_types "
    "UNION ALL SELECT 3, id, name FROM trades"
)


async def load_lookups(session: AsyncSession) -> Lookups:
    """The three small reference tables in one statement (job create reads them on every call)."""
    tables: dict[int, dict[int, str]] = {1: {}, 2: {}, 3: {}}
    for table, id_, name in await session.execute(_LOOKUPS):
        tables[int(table)][int(id_)] = name
    priorities, job_types = tables[1], tables[2]
    return Lookups(
        priorities=priorities,
        priority_by_name={n.lower(): i for i, n in priorities.items()},
        job_types=job_types,
        job_type_by_name={n.lower(): i for i, n in job_types.items()},
        trades=frozenset(tables[3]),
    )


@dataclass(frozen=True)
class RuleSpec:
    priority_id: int
    job_type_id: int | None
    target_hours: int


def validate_rules(rules: Sequence[SlaRuleIn], lookups: Lookups, prefix: str = "sla_rules") -> list[RuleSpec]:
    """Every rule checked; duplicates (same priority and job type twice) refused."""
    out: list[RuleSpec] = []
    seen: set[tuple[int, int | None]] = set()
    for i, rule in enumerate(rules):
        field = f"{prefix}[{i}]"
        if rule.priority_id is not None and rule.priority is not None:
            raise InvalidInput.field(f"{field}.priority", "send priority or priority_id, not both")
        priority_value = rule.priority_id if rule.priority_id is not None else rule.priority
        priority_id = lookups.priority(priority_value, f"{field}.priority")
        job_type_value = rule.job_type_id if rule.job_type_id is not None else rule.job_type
        job_type_id = lookups.job_type(job_type_value, f"{field}.job_type")
        out.append(RuleSpec(priority_id, job_type_id, check_hours(rule.target_hours, f"{field}.target_hours")))
        if (priority_id, job_type_id) in seen:
            raise InvalidInput.field(field, "duplicate rule for this priority and job type")
        seen.add((priority_id, job_type_id))
    return out


def check_hours(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput.field(field, "must be a whole number of hours")
    if not 1 <= value <= MAX_TARGET_HOURS:
        raise InvalidInput.field(field, f"must be a whole number of hours between 1 and {MAX_TARGET_HOURS}")
    return value


async def replace_rules(session: AsyncSession, branch_id: int, specs: Sequence[RuleSpec]) -> None:
    """The sent list becomes the branch's whole rule set (deleted first, so swaps never collide)."""
    await session.execute(delete(SlaRule).where(SlaRule.branch_id == branch_id))
    await session.flush()
    for spec in specs:
        session.add(
            SlaRule(
                branch_id=branch_id,
                priority_id=spec.priority_id,
                job_type_id=spec.job_type_id,
                target_hours=spec.target_hours,
            )
        )
    await session.flush()


async def rules_by_branch(session: AsyncSession, branch_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Every rule of the given branches in one joined query, ordered by priority rank, generic first."""
    out: dict[int, list[dict[str, Any]]] = {b: [] for b in branch_ids}
    if not branch_ids:
        return out
    stmt = (
        select(
            SlaRule.branch_id,
            SlaRule.uuid,
            SlaRule.priority_id,
            Priority.name,
            SlaRule.job_type_id,
            JobType.name,
            SlaRule.target_hours,
        )
        .join(Priority, Priority.id == SlaRule.priority_id)
        .outerjoin(JobType, JobType.id == SlaRule.job_type_id)
        .where(SlaRule.branch_id.in_(list(branch_ids)))
        .order_by(SlaRule.branch_id, Priority.rank, SlaRule.job_type_id.is_not(None), JobType.name, SlaRule.id)
    )
    for branch_id, uuid, pid, pname, jid, jname, hours in await session.execute(stmt):
        out[branch_id].append(
            {
                "uuid": uuid,
                "priority_id": pid,
                "priority_name": pname,
                "job_type_id": jid,
                "job_type_name": jname,
                "target_hours": hours,
            }
        )
    return out


# --- branches -----------------------------------------------------------------------------------


def _agent_count_subquery() -> Any:
    return (
        select(func.count())
        .select_from(AgentBranch)
        .join(Agent, Agent.id == AgentBranch.agent_id)
        .join(User, User.id == Agent.user_id)
        .where(AgentBranch.branch_id == Branch.id, User.account_status_id == STATUS_ACTIVE)
        .correlate(Branch)
        .scalar_subquery()
    )


def _filtered(search: str | None, is_active: bool | None) -> Select[Any]:
    stmt = select(Branch)
    if search:
        pattern = like_pattern(search)
        stmt = stmt.where(
            or_(func.lower(Branch.name).like(pattern, escape="\\"), func.lower(Branch.code).like(pattern, escape="\\"))
        )
    if is_active is not None:
        stmt = stmt.where(Branch.is_active.is_(is_active))
    return stmt


async def list_branches(
    session: AsyncSession, page: Page, *, search: str | None = None, is_active: bool | None = None
) -> tuple[list[dict[str, Any]], int]:
    base = _filtered(search, is_active)
    count = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    stmt = (
        base.add_columns(_agent_count_subquery()).order_by(Branch.name, Branch.id).limit(page.limit).offset(page.offset)
    )
    rows = (await session.execute(stmt)).all()
    return await _payloads(session, [(r[0], r[1]) for r in rows]), int(count)


async def _payloads(session: AsyncSession, rows: Sequence[tuple[Branch, int]]) -> list[dict[str, Any]]:
    ids = [b.id for b, _ in rows]
    rules = await rules_by_branch(session, ids)
    jobs = await open_job_counts(session, ids)
    return [branch_payload(b, agents, jobs.get(b.id, 0), rules.get(b.id, [])) for b, agents in rows]


def branch_payload(branch: Branch, agent_count: int, open_jobs: int, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": branch.id,
        "ID": branch.id,
        "uuid": branch.uuid,
        "name": branch.name,
        "code": branch.code,
        "address_line1": branch.address_line1,
        "address_line2": branch.address_line2,
        "town": branch.town,
        "postcode": branch.postcode,
        "phone": branch.phone,
        "email": branch.email,
        "is_active": branch.is_active,
        "agent_count": int(agent_count or 0),
        "open_jobs": int(open_jobs),
        "created_at": iso(branch.created_at),
        "updated_at": iso(branch.updated_at),
        "sla_rules": rules,
    }


async def branch_detail(session: AsyncSession, branch: Branch) -> dict[str, Any]:
    agents = (
        await session.execute(select(_agent_count_subquery()).select_from(Branch).where(Branch.id == branch.id))
    ).scalar_one()
    return (await _payloads(session, [(branch, agents)]))[0]


async def get_branch(
    session: AsyncSession, *, branch_id: int | None = None, uuid: str | None = None, for_update: bool = False
) -> Branch:
    if branch_id is None and not uuid:
        raise InvalidInput.field("branch_id", "is required")
    stmt = select(Branch).where(Branch.id == branch_id) if branch_id is not None else select(Branch)
    if branch_id is None:
        stmt = stmt.where(Branch.uuid == check_uuid(uuid, "uuid"))
    if for_update:
        stmt = stmt.with_for_update()
    branch = (await session.execute(stmt)).scalar_one_or_none()
    if branch is None:
        raise NotFound(BRANCH_NOT_FOUND)
    return branch


async def _ensure_code_free(session: AsyncSession, code: str, exclude_id: int | None = None) -> None:
    stmt = select(Branch.id).where(Branch.code == code)
    if exclude_id is not None:
        stmt = stmt.where(Branch.id != exclude_id)
    if (await session.execute(stmt)).first() is not None:
        raise Conflict(
            f"A branch with code {code} already exists.", errors=[{"field": "code", "message": "already in use"}]
        )


def _details(body: BranchCreate | BranchUpdate) -> dict[str, Any]:
    """Validated optional detail fields that were actually sent (so an update leaves the rest)."""
    sent = body.model_fields_set
    cleaners = {
        "address_line1": lambda v: clean_text(v, "address_line1", 200),
        "address_line2": lambda v: clean_text(v, "address_line2", 200),
        "town": lambda v: clean_text(v, "town", 100),
        "postcode": clean_postcode,
        "phone": clean_phone,
        "email": clean_email,
    }
    return {name: fn(getattr(body, name)) for name, fn in cleaners.items() if name in sent}


def _snapshot(branch: Branch) -> dict[str, Any]:
    return {
        "name": branch.name,
        "code": branch.code,
        "address_line1": branch.address_line1,
        "address_line2": branch.address_line2,
        "town": branch.town,
        "postcode": branch.postcode,
        "phone": branch.phone,
        "email": branch.email,
        "is_active": branch.is_active,
    }


async def create_branch(session: AsyncSession, body: BranchCreate, *, actor_id: int | None) -> Branch:
    name = clean_text(body.name, "name", 120, required=True)
    code = clean_code(body.code)
    details = _details(body)
    specs = validate_rules(body.sla_rules or [], await load_lookups(session))
    await _ensure_code_free(session, code)
    branch = Branch(name=name, code=code, is_active=True, **details)
    session.add(branch)
    await session.flush()
    if specs:
        await replace_rules(session, branch.id, specs)
    await audit.record(
        session, user_id=actor_id, action="create", entity="branch", entity_id=branch.id, after=_snapshot(branch)
    )
    return branch


async def update_branch(session: AsyncSession, body: BranchUpdate, *, actor_id: int | None) -> Branch:
    branch = await get_branch(session, branch_id=body.id if body.id is not None else body.branch_id, uuid=body.uuid)
    before = _snapshot(branch)
    sent = body.model_fields_set
    if "name" in sent:
        branch.name = clean_text(body.name, "name", 120, required=True) or branch.name
    if "code" in sent:
        code = clean_code(body.code)
        await _ensure_code_free(session, code, exclude_id=branch.id)
        branch.code = code
    for key, value in _details(body).items():
        setattr(branch, key, value)
    if body.sla_rules is not None:
        await replace_rules(session, branch.id, validate_rules(body.sla_rules, await load_lookups(session)))
    await session.flush()
    await audit.record(
        session,
        user_id=actor_id,
        action="update",
        entity="branch",
        entity_id=branch.id,
        before=before,
        after=_snapshot(branch),
    )
    return branch


async def sole_branch_agent_count(session: AsyncSession, branch_id: int) -> int:
    """Active agents for whom this is the only branch they may operate on."""
    other = aliased(AgentBranch)
    stmt = (
        select(func.count())
        .select_from(AgentBranch)
        .join(Agent, Agent.id == AgentBranch.agent_id)
        .join(User, User.id == Agent.user_id)
        .where(
            AgentBranch.branch_id == branch_id,
            User.account_status_id == STATUS_ACTIVE,
            ~exists().where(and_(other.agent_id == AgentBranch.agent_id, other.branch_id != branch_id)),
        )
    )
    return int((await session.execute(stmt)).scalar_one())


async def delete_branch(session: AsyncSession, branch: Branch, *, actor_id: int | None) -> Branch:
    """DELETE keeps history: the branch is disabled, and refused while it still carries work."""
    open_jobs = (await open_job_counts(session, [branch.id])).get(branch.id, 0)
    if open_jobs:
        raise Conflict(f"The branch has {open_jobs} open job(s); close or move them before removing it.")
    sole = await sole_branch_agent_count(session, branch.id)
    if sole:
        raise Conflict(
            f"The branch is the only branch of {sole} active agent(s); assign them another branch before removing it."
        )
    return await set_branch_active(session, branch, False, actor_id=actor_id, action="delete")


async def set_branch_active(
    session: AsyncSession, branch: Branch, active: bool, *, actor_id: int | None, action: str | None = None
) -> Branch:
    """Idempotent: disabling a disabled branch changes nothing and writes no audit row."""
    if branch.is_active == active:
        return branch
    branch.is_active = active
    await session.flush()
    await audit.record(
        session,
        user_id=actor_id,
        action=action or ("enable" if active else "disable"),
        entity="branch",
        entity_id=branch.id,
        before={"is_active": not active},
        after={"is_active": active},
    )
    return branch


# --- CSV ----------------------------------------------------------------------------------------


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


async def bulk_import(session: AsyncSession, raw: bytes, *, actor_id: int | None) -> dict[str, Any]:
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
        taken = set((await session.execute(select(Branch.code).where(Branch.code.in_(list(codes_in_file))))).scalars())
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
        branch = Branch(is_active=True, **values)
        session.add(branch)
        await session.flush()
        if specs:
            await replace_rules(session, branch.id, specs)
    await audit.record(
        session,
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
