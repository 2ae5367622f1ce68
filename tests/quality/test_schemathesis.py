"""Schema fuzzing: Schemathesis against the app's own OpenAPI document, in process.

The app under test gets its own database (a clone of the seeded template, prepared on a private event loop) because
Schemathesis drives ASGI through a synchronous test client with an event loop of its own; the
app's engine then only ever connects from that loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from propops.core.params import POSTCODE_FORMAT
from tests.conftest import Templates, make_settings

# Writes that end the fuzzing session itself; covered by tests/auth.
EXCLUDED_PATHS = ("/api/auth/logout",)
MAX_EXAMPLES = 25

# Schema-valid postcodes are drawn from ones the postcode data knows: a well-formed postcode the
# data lacks is a documented 400 ("unknown postcode") that no pattern can express.
KNOWN_POSTCODES = ["SW1A 1AA", "sw1a1aa", "SW1A 1", "SW1A", "EC2R 8AH", "B1", "LS1 4AP", "N1 9GU", "M1"]
schemathesis.openapi.format(POSTCODE_FORMAT, st.sampled_from(KNOWN_POSTCODES))

# positive_data_acceptance (ST202) is off only where a 400 for schema-valid data is a business rule
# that OpenAPI cannot state (one field required or forbidden depending on another's value, or a
# value that must exist elsewhere). Every other check still runs on these operations.
NO_POSITIVE_ACCEPTANCE: dict[tuple[str, str], str] = {
    ("GET", "/api/contractors/list"): "max_distance_km needs a postcode (cross-parameter rule)",
    ("GET", "/api/contractors/list-with-coverage"): "max_distance_km needs a postcode (cross-parameter rule)",
    ("POST", "/api/contractors/manage"): "create needs names/email/trades, update needs uuid; trade ids must "
    "exist; coverage fields depend on coverage.source",
    ("POST", "/api/contractors/profile"): "coverage fields depend on coverage.source; coverage needs base_postcode",
    ("POST", "/api/contractors/certification"): "upload needs file/expiry/type, delete needs one of three keys; "
    "staff must name the contractor; the file's bytes must match its type",
    ("GET", "/api/contractors/certifications/compliance"): "contractor_uuid required for staff, optional for a "
    "contractor (depends on the caller)",
    ("POST", "/api/contractors/certification-types"): "create needs name/code, update/delete need id; names unique",
    ("GET", "/api/admin/branches"): "action=get needs id or uuid",
    ("POST", "/api/admin/branches"): "csv_file content must be a UTF-8 CSV with the template's header",
    ("PUT", "/api/admin/branches"): "one of id/branch_id/uuid; SLA rules must name existing priorities",
    ("DELETE", "/api/admin/branches"): "one of id/branch_id/uuid, in the query or the body",
    ("POST", "/api/admin/enable-branch"): "one of id/branch_id/uuid",
    ("POST", "/api/admin/disable-branch"): "one of id/branch_id/uuid",
    ("GET", "/api/agents/sla"): "agent_uuid required for staff, optional for an agent (depends on the caller)",
    ("GET", "/api/agents/performance"): "date_from must not be after date_to (cross-parameter rule)",
    ("POST", "/api/agents/manage"): "create needs email/password/names/branch_id, the others need agent_uuid",
    ("GET", "/api/properties/manage"): "action=get needs uuid",
    ("GET", "/api/jobs/manage"): "get/list_commits/suggest_contractors need uuid; suggest needs assign rights",
    ("POST", "/api/jobs/manage"): "create needs title/address/trade..., the others need uuid; the state machine "
    "refuses transitions the job's status does not allow",
    ("POST", "/api/jobs/case-notes"): "job_uuid and one of note_text/note are required together",
    ("POST", "/api/jobs/remedials"): "create/delete need different job uuids; a job cannot be its own remedial",
    ("POST", "/api/properties/manage"): "create needs address/full postcode (and branch_id for staff), update "
    "needs uuid",
    ("GET", "/api/admin/organisations"): "action=get needs id or uuid",
    ("POST", "/api/admin/organisations"): "create needs name and slug, the others need id or uuid; names and "
    "slugs unique; compliance_email must be an address (the shared email rule)",
    ("POST", "/api/organisation/settings"): "at least one setting; compliance_email must be an address (the "
    "shared email rule)",
}


def _in_thread(coro: Any) -> Any:
    box: dict[str, Any] = {}

    def run() -> None:
        box["value"] = asyncio.run(coro)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return box["value"]


async def _prepare(templates: Templates, tmp: Path) -> tuple[Any, Any, dict[str, str]]:
    from sqlalchemy import select

    from propops.auth.models import User
    from propops.auth.service import csrf_token, issue_token
    from propops.core.context import AppContext
    from propops.core.db import Database
    from propops.core.ratelimit import MemoryRateLimitStore

    url, drop = await templates.clone(tmp)
    settings = make_settings(url, tmp)
    db = Database(url)
    ctx = AppContext(settings=settings, db=db, rate_limits=MemoryRateLimitStore())
    headers: dict[str, str] = {}
    async with db.sessionmaker() as s, s.begin():
        for email, role in (("admin@example.com", "admin"), ("contractor001@example.com", "contractor")):
            user = (await s.execute(select(User).where(User.email == email))).scalar_one()
            raw, token = await issue_token(s, ctx, user)
            from propops.auth.service import Principal

            p = Principal(
                user_id=user.id,
                uuid=user.uuid,
                email=email,
                first_name="",
                last_name="",
                account_type_id=user.account_type_id,
                role_id=user.role_id,
                token_id=token.id,
                session_hash=token.token_hash,
                permissions=frozenset(),
                organisation_id=user.organisation_id,
                is_platform=True,
            )
            headers[f"{role}_token"] = raw
            headers[f"{role}_csrf"] = csrf_token(ctx, p)
    await db.dispose()
    return settings, drop, headers


@pytest.fixture(scope="module")
def fuzz_target(templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from propops.main import create_app

    settings, drop, headers = _in_thread(_prepare(templates, tmp_path_factory.mktemp("fuzz")))
    app: FastAPI = create_app(settings)
    yield app, headers
    _in_thread(drop())


@pytest.fixture(scope="module")
def api_schema(fuzz_target: Any) -> Any:
    app, _ = fuzz_target
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


# negative_data_rejection (ST201) is off for the multipart upload only: its text fields are checked
# against the documented schema (certifications.router.UploadFormFields), but a "near-boundary"
# number mutation of certification_id reached the app as the valid form value "2" (multipart
# serialises every part as text), so the generator counted a valid request as a negative one.
NO_NEGATIVE_REJECTION: dict[tuple[str, str], str] = {
    ("POST", "/api/contractors/certification"): "multipart serialisation of mutated numbers",
}


def _excluded(case: Any) -> list[Any]:
    key = (case.method.upper(), case.path)
    excluded = [positive_data_acceptance] if key in NO_POSITIVE_ACCEPTANCE else []
    if key in NO_NEGATIVE_REJECTION:
        excluded.append(negative_data_rejection)
    return excluded


def _whole_floats_as_ints(value: Any) -> Any:
    """JSON Schema counts 2.0 as an integer and the generator sends such values; the API's ids and
    counts deliberately refuse them (StrictInt, tested in tests/agents and tests/branches), so a
    generated 2.0 is sent as 2."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(v) for v in value]
    return value


def _call(case: Any, fuzz_target: Any, role: str) -> None:
    only = os.environ.get("PROPOPS_FUZZ_PATHS")  # a path regex, to fuzz a few operations while fixing them
    if only and not re.search(only, case.path):
        return
    if case.path in EXCLUDED_PATHS or (isinstance(case.body, dict) and case.body.get("action") == "logout"):
        return
    _, headers = fuzz_target
    if isinstance(case.body, (dict, list)):
        case.body = _whole_floats_as_ints(case.body)
    excluded = _excluded(case)
    case.call_and_validate(
        headers={
            "Authorization": f"Bearer {headers[f'{role}_token']}",
            "X-CSRF-Token": headers[f"{role}_csrf"],
        },
        excluded_checks=excluded,
    )


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(hypothesis.HealthCheck), derandomize=True
)
def test_api_as_staff_admin(case: Any, fuzz_target: Any) -> None:
    _call(case, fuzz_target, "admin")


@schema.parametrize()
@hypothesis.settings(
    max_examples=10, deadline=None, suppress_health_check=list(hypothesis.HealthCheck), derandomize=True
)
def test_api_as_contractor(case: Any, fuzz_target: Any) -> None:
    _call(case, fuzz_target, "contractor")


STATEFUL_SETTINGS = hypothesis.settings(
    max_examples=15,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)


def test_stateful_as_staff_admin(api_schema: Any, fuzz_target: Any) -> None:
    """The stateful phase: sequences along the links Schemathesis infers from the document (a list
    row's uuid or id fed to get, update, assign...), with the same checks and exclusions."""
    _, headers = fuzz_target
    auth = {"Authorization": f"Bearer {headers['admin_token']}", "X-CSRF-Token": headers["admin_csrf"]}
    calls: list[str] = []
    # Session-ending writes stay out of sequences too (mobile-auth's action=logout is one of its bodies).
    workflow = api_schema.exclude(path=[*EXCLUDED_PATHS, "/api/security/mobile-auth"]).as_state_machine()

    class Workflow(workflow):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            if isinstance(case.body, (dict, list)):
                case.body = _whole_floats_as_ints(case.body)
            calls.append(f"{case.method} {case.path}")

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, excluded_checks=_excluded(case), headers=auth)

    Workflow.run(settings=STATEFUL_SETTINGS)
    assert calls
    assert not any(c.endswith(EXCLUDED_PATHS) for c in calls)
    print(f"stateful: {len(calls)} calls over {len(set(calls))} operations")
