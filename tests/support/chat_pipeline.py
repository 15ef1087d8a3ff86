"""Real pipeline stages (``helpline worker <stage>``'s code under runtime.runner) in a background
thread, for end-to-end tests of the chat channel."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from runtime.runner import StageRunner
from runtime.settings import RunnerSettings, load_settings
from runtime.workers import STAGES, load
from schemas.stage import KafkaConnection, StageContext

STOP_TIMEOUT_S = 30.0


@contextmanager
def running_stages(conn: KafkaConnection, names: tuple[str, ...], signing_key: bytes,
                   env: dict[str, str] | None = None) -> Iterator[None]:
    """``env``: settings as ``HELPLINE_<SECTION>__<KEY>`` values (the process environment is
    not read)."""
    settings = load_settings(env=env or {})
    ctx = StageContext(kafka=conn, sections=settings, signing_key=signing_key)
    runners = [StageRunner(load(STAGES[name])(ctx), conn,
                           RunnerSettings(batch_timeout_ms=10, linger_ms=1)) for name in names]
    box: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        stop = asyncio.Event()
        box["stop"], box["loop"] = stop, asyncio.get_running_loop()
        started.set()
        await asyncio.gather(*(r.run(stop) for r in runners))

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc
            started.set()

    thread = threading.Thread(target=thread_main, name="stages", daemon=True)
    thread.start()
    started.wait(STOP_TIMEOUT_S)
    try:
        yield
    finally:
        if "loop" in box:
            box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(STOP_TIMEOUT_S)
        if "error" in box:
            raise box["error"]
