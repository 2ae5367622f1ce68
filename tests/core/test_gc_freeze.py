"""Server startup freezes the long-lived objects out of the cyclic garbage collector (see the
lifespan in ``propops.main``): a full collection then walks only what requests allocate."""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

from fastapi import FastAPI


async def test_startup_freezes_the_app_out_of_the_collector(app_with: Callable[..., Awaitable[FastAPI]]) -> None:
    app = await app_with()
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
            assert frozen > 10_000, frozen  # modules, the app, its routes and models
            assert len(gc.get_objects(generation=2)) < frozen
    finally:
        gc.unfreeze()
