"""Per-organisation settings (reference §1.10): what each letting company configures for itself.

Stored as JSON on the organisation row and always read through ``OrganisationSettings``, so a
missing key is its default and an old row never breaks a newer reader.

- ``branding_name``: the name shown to the company's users and in its emails (default: the
  organisation's name).
- ``sla_rules``: the default SLA targets a new branch starts with (priority id -> hours), so
  a company sets its service levels once rather than per branch.
- ``job_type_ids``: the job types the company raises jobs with (``None``: every active type).
- ``notifications``: which job notifications go out by email (``job_assigned``,
  ``job_completed``, ``job_recalled``, ``sla_breached``, ``case_note``,
  ``certification_reminder``); security mail is never optional.
- ``compliance_email``: where the company's certificate-expiry digests go (``None``: nowhere for
  a customer organisation; the deployment's ``PROPOPS_COMPLIANCE_EMAIL`` for the platform one).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from propops.core.errors import InvalidInput
from propops.core.validation import clean_email, clean_text

NOTIFICATION_KINDS = (
    "job_assigned",
    "job_completed",
    "job_recalled",
    "sla_breached",
    "case_note",
    "certification_reminder",
)
MAX_TARGET_HOURS = 8760


class NotificationPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_assigned: bool = True
    job_completed: bool = True
    job_recalled: bool = True
    sla_breached: bool = True
    case_note: bool = True
    certification_reminder: bool = True


class OrganisationSettings(BaseModel):
    """The validated settings of one organisation; unknown keys are refused (a typo is an error)."""

    model_config = ConfigDict(extra="forbid")

    branding_name: str | None = Field(default=None, max_length=120)
    sla_rules: dict[int, int] = Field(
        default_factory=dict, description="Default SLA target hours per priority id for new branches."
    )
    job_type_ids: list[int] | None = Field(default=None, max_length=200)
    notifications: NotificationPreferences = Field(default_factory=NotificationPreferences)
    compliance_email: str | None = Field(default=None, max_length=254)

    @field_validator("branding_name")
    @classmethod
    def _branding(cls, value: str | None) -> str | None:
        return clean_text(value, "branding_name", 120)

    @field_validator("compliance_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return clean_email(value, "compliance_email")

    @field_validator("sla_rules")
    @classmethod
    def _rules(cls, value: dict[int, int]) -> dict[int, int]:
        for priority_id, hours in value.items():
            if not 1 <= priority_id <= 2_147_483_647:
                raise ValueError("priority ids must be positive integers")
            if not 1 <= hours <= MAX_TARGET_HOURS:
                raise ValueError(f"target hours must be between 1 and {MAX_TARGET_HOURS}")
        return value

    @field_validator("job_type_ids")
    @classmethod
    def _types(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if any(not 1 <= v <= 2_147_483_647 for v in value):
            raise ValueError("job type ids must be positive integers")
        return sorted(set(value))


def read_settings(raw: dict[str, Any] | None) -> OrganisationSettings:
    """The stored JSON as settings; keys written by a newer release are ignored rather than fatal."""
    known = {k: v for k, v in (raw or {}).items() if k in OrganisationSettings.model_fields}
    try:
        return OrganisationSettings.model_validate(known)
    except (ValueError, InvalidInput):  # written by hand in the database: defaults, not a 500
        return OrganisationSettings()


def wants_email(raw: dict[str, Any] | None, kind: str) -> bool:
    """Whether the organisation sends the ``kind`` notification by email (default: yes)."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    return bool(getattr(read_settings(raw).notifications, kind))
