"""``helpline worker chat``: the chat HTTP service (uvicorn), the reader of chat.outbound and
the email-fallback sweep, until ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn

from ingest.chat.app import ChatApi, create_app
from ingest.chat.desk import ChatDesk
from ingest.chat.metered import MeteredApp
from ingest.chat.outbound import OutboundReader
from ingest.chat.settings import ChatSettings
from schemas.clock import Clock, utcnow
from schemas.stage import NO_METER, Connector, Meter, Publisher, StageContext, TopicIO

log = logging.getLogger("helpline.chat")

STARTUP_POLL_S = 0.02


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns signals and sets ``stop``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ChatService:
    """The running service; ``port`` is known once :meth:`start` returned."""

    def __init__(
        self,
        settings: ChatSettings,
        signing_key: bytes,
        publisher: Publisher,
        topics: TopicIO | None,
        clock: Clock = utcnow,
        meter: Meter = NO_METER,
    ) -> None:
        self.settings = settings
        self.desk = ChatDesk(settings, signing_key, publisher, clock=clock, meter=meter)
        self.app = create_app(self.desk)
        self.api: ChatApi = self.app.state.api
        self._reader = OutboundReader(topics, self.desk, clock) if topics else None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._server = _Server(uvicorn.Config(
            MeteredApp(self.app, meter) if meter is not NO_METER else self.app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            proxy_headers=bool(settings.forwarded_allow_ips),
            forwarded_allow_ips=settings.forwarded_allow_ips or None,
            timeout_graceful_shutdown=int(settings.shutdown_timeout_s),
            limit_concurrency=None,
        ))
        self.port = settings.port

    async def start(self, sock: socket.socket | None = None) -> None:
        if self._reader is not None:
            await self._reader.start()
            self._tasks.append(asyncio.create_task(self._reader.follow(self._stop)))
        self._tasks.append(asyncio.create_task(self._sweep()))
        serving = asyncio.create_task(self._server.serve([sock] if sock else None))
        self._tasks.append(serving)
        while not self._server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no started event
            await asyncio.sleep(STARTUP_POLL_S)
        if serving.done():
            serving.result()  # raises why it could not start (port in use, ...)
            raise RuntimeError("the chat HTTP server stopped during start-up")
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.api.listening_on(self.port)
        log.info("chat service listening on %s:%d", self.settings.host, self.port)

    async def _sweep(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.settings.fallback_check_interval_s)
            try:
                await self.desk.send_email_fallbacks()
            except Exception as exc:  # retried at the next sweep: the replies are still due
                log.warning("email fallback not handed over yet: %s", exc)

    async def stop(self) -> None:
        self._stop.set()
        self.api.close()
        self._server.should_exit = True
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.warning("chat service task ended with %r", result)
        if self._reader is not None:
            await self._reader.stop()


async def run(ctx: StageContext, publisher: Publisher, stop: asyncio.Event) -> None:
    settings: ChatSettings = ctx.section("chat")
    service = ChatService(settings, ctx.signing_key, publisher, ctx.topics, meter=ctx.meter)
    await service.start()
    try:
        await stop.wait()
    finally:
        await service.stop()


CONNECTOR = Connector(run)  # what `helpline worker chat` runs (runtime.workers)
