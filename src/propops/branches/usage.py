"""What keeps a branch in use: its active agents and its open jobs, counted by those domains.

Agents and jobs point at branches, so they sit above this package, which must not import them
(tests/quality/test_layers.py). The admin view still shows both counts, and removing a branch is
refused while either holds it: the counters come in as a ``BranchUsage``, which
``propops.main.create_app`` builds from ``agents.service`` and ``jobs.usage`` and keeps on the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from propops.core.context import AppContext
from propops.core.deps import Ctx

# (session, organisation id, branch ids of that organisation) -> count per branch id, every id
# present (0 when none); one grouped query. The organisation leads the jobs indexes.
Counter = Callable[[AsyncSession, int, Sequence[int]], Awaitable[dict[int, int]]]
KEY = "branches.usage"


@dataclass(frozen=True)
class BranchUsage:
    active_agents: Counter  # active agents assigned to or sharing the branch
    sole_agents: Counter  # active agents for whom it is the only branch
    open_jobs: Counter  # jobs in an open status


def install(ctx: AppContext, usage: BranchUsage) -> None:
    ctx.extras[KEY] = usage


async def branch_usage(ctx: Ctx) -> BranchUsage:
    """The app's counters (a dependency: async, so FastAPI needs no thread-pool hop)."""
    usage = ctx.extras.get(KEY)
    if not isinstance(usage, BranchUsage):
        raise RuntimeError("branch usage counters are not installed (propops.main.create_app installs them)")
    return usage


Usage = Annotated[BranchUsage, Depends(branch_usage)]
