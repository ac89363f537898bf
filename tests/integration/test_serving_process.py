"""What a serving process does once at start, through the app's lifespan."""

from __future__ import annotations

import gc

from ehealth_auth.settings import Settings
from ehealth_auth.wiring import SERVING_GC_THRESHOLDS, Services, build_app


async def test_the_objects_built_before_serving_are_kept_out_of_full_collections(
    settings: Settings, services: Services
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    app = build_app(settings, services)
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
            assert frozen > 10_000
            assert gc.get_threshold() == SERVING_GC_THRESHOLDS
            # The app's own objects are among them (the frozen are in no generation).
            assert not any(tracked is app.router for tracked in gc.get_objects())
            garbage: list[object] = []
            garbage.append(garbage)  # a cycle made while serving is still collected
            del garbage
            assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
