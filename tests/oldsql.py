"""The replaced SQL texts, run as they used to run, for the old-vs-new equivalence tests.

The service no longer has a path for SQL strings (every statement is a Core expression through
``propops.infra.executor``); the equivalence tests keep the old texts as fixtures, so they run them
here, on the app's committed-row reader, with the numbered placeholders the old templates used
(``{0}``, ``{1}``…, so one parameter may appear twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from propops.core.context import AppContext
from propops.infra.executor import Executor


async def run_old_sql(target: AppContext | Executor, template: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``template`` with ``?1``/``$1`` placeholders on the raw reader (every test app has one)."""
    executor = target.executor if isinstance(target, AppContext) else target
    reader = executor.reader
    assert reader is not None, "the test apps always have a committed-row reader"
    style = "${}" if executor.pg else "?{}"
    sql = template.format(*[style.format(i + 1) for i in range(len(params))])
    return [tuple(r) for r in await reader.fetchall(sql, tuple(params))]
