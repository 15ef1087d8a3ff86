"""Runs the real chat service (uvicorn on a free loopback port, real KafkaPublisher) in a
background thread, so sync tests and the browser test can talk to it over HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ingest.chat.service import ChatService
from ingest.chat.settings import ChatSettings
from runtime.kafka_io import KafkaPublisher
from runtime.topic_io import KafkaTopicIO
from schemas.stage import KafkaConnection

SIGNING_KEY = b"chat-test-signing-key-0123456789"
START_TIMEOUT_S = 60.0


@dataclass
class RunningChat:
    url: str
    service: ChatService
    loop: asyncio.AbstractEventLoop

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the service's event loop and return its result."""
        async def go() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout=10)


def loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@contextmanager
def running_chat(conn: KafkaConnection, settings: ChatSettings,
                 publish_timeout_s: float = 10.0) -> Iterator[RunningChat]:
    sock = loopback_socket()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        stop = asyncio.Event()
        box["stop"] = stop
        box["loop"] = asyncio.get_running_loop()
        async with KafkaPublisher(conn, timeout_s=publish_timeout_s) as publisher:
            service = ChatService(settings, SIGNING_KEY, publisher, KafkaTopicIO(conn))
            await service.start(sock)
            box["service"] = service
            ready.set()
            try:
                await stop.wait()
            finally:
                await service.stop()

    def main() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            box["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=main, name="chat-service", daemon=True)
    thread.start()
    ready.wait(START_TIMEOUT_S)
    if "service" not in box:
        sock.close()
        raise RuntimeError(f"chat service did not start: {box.get('error')!r}")
    port = sock.getsockname()[1]
    try:
        yield RunningChat(f"http://127.0.0.1:{port}", box["service"], box["loop"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)
        sock.close()
        if "error" in box:
            raise box["error"]
