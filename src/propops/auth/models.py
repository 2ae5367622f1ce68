"""Accounts, roles, permission keys as data, API tokens and login-failure records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from propops.core.clock import utcnow
from propops.core.db import Base, TimestampMixin, UUIDMixin, organisation_column

ACCOUNT_STAFF, ACCOUNT_AGENT, ACCOUNT_LANDLORD, ACCOUNT_TENANT, ACCOUNT_CONTRACTOR = 1, 2, 3, 4, 5
STATUS_ACTIVE, STATUS_DISABLED = 1, 2


class AccountType(Base):
    __tablename__ = "account_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    can_login: Mapped[bool] = mapped_column(Boolean, default=True)


class AccountStatus(Base):
    __tablename__ = "account_statuses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Permission(Base):
    __tablename__ = "permissions"
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Role(Base):
    __tablename__ = "roles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None: a built-in role every organisation uses; otherwise a role one organisation made.
    organisation_id: Mapped[int | None] = organisation_column(nullable=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    account_type_id: Mapped[int] = mapped_column(ForeignKey("account_types.id"))
    # Lower is more powerful (reference §2.7); nobody may act on a level below their own.
    level: Mapped[int] = mapped_column(Integer, default=100)
    description: Mapped[str] = mapped_column(String(255), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class RolePermission(Base):
    __tablename__ = "role_permissions"
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True)
    permission_key: Mapped[str] = mapped_column(ForeignKey("permissions.key", ondelete="CASCADE"), primary_key=True)


class UserPermission(Base):
    """Per-user grant (granted=True) or revoke (granted=False) on top of the role's set."""

    __tablename__ = "user_permissions"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    permission_key: Mapped[str] = mapped_column(ForeignKey("permissions.key", ondelete="CASCADE"), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean, default=True)


class User(UUIDMixin, TimestampMixin, Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = organisation_column()
    # Unique across organisations: the login key (an address belongs to one account).
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    account_type_id: Mapped[int] = mapped_column(ForeignKey("account_types.id"), index=True)
    account_status_id: Mapped[int] = mapped_column(ForeignKey("account_statuses.id"), default=STATUS_ACTIVE)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    branch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)

    @property
    def is_active(self) -> bool:
        return self.account_status_id == STATUS_ACTIVE


class ApiToken(Base):
    """A session. Only the keyed hash of the bearer token is stored.

    A password login (or an operator-issued token) is a root; a session minted from another one
    (``mobile-auth validate_token``) is its child, never outlives it and ends with it.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id_created_at", "user_id", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="login")
    platform: Mapped[str | None] = mapped_column(String(20), nullable=True)
    device_type: Mapped[str | None] = mapped_column(String(80), nullable=True)
    app_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    parent_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), nullable=True, index=True
    )
    depth: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_created_at", "email", "created_at"),
        Index("ix_login_failures_ip_created_at", "ip_address", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SystemState(Base):
    """Small counters shared by every process, e.g. the permissions epoch that invalidates caches."""

    __tablename__ = "system_state"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
