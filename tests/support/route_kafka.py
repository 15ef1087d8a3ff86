"""Route stage helpers for integration tests: run the stage in-process until a condition,
or as a real ``helpline worker route`` process (for kill -9)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from runtime.runner import StageRunner
from schemas.stage import KafkaConnection

REPO = Path(__file__).resolve().parents[2]


async def run_until(runner: StageRunner, done: Callable[[], object], limit_s: float = 60) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        deadline = asyncio.get_running_loop().time() + limit_s
        while asyncio.get_running_loop().time() < deadline:
            if task.done():
                task.result()
            if await _call(done):
                return
            await asyncio.sleep(0.2)
        raise AssertionError("condition not reached within the limit")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def _call(done: Callable[[], object]) -> object:
    result = done()
    if asyncio.iscoroutine(result):
        return await result
    return result


def worker_config(path: Path, conn: KafkaConnection, route_toml: str) -> Path:
    path.write_text(
        "[kafka]\n"
        f'bootstrap_servers = "{conn.bootstrap_servers}"\n'
        f'topic_prefix = "{conn.topic_prefix}"\n'
        "[observability]\n"
        'log_level = "WARNING"\n'
        "[runner]\n"
        "batch_timeout_ms = 20\n"
        "[route]\n" + route_toml,
        encoding="utf-8",
    )
    return path


def start_worker(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``helpline worker route`` as its own process, configured by the file only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", "--config", str(config), "worker", "route",
             "--instance-id", "it"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
