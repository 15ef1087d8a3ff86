"""Health and metrics endpoints of a worker process: ``/healthz`` (alive), ``/readyz``
(ready to do its work: tables restored, consuming), ``/metrics`` (Prometheus)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def health_app(
    registry: CollectorRegistry, status: Callable[[], dict[str, object]]
) -> Starlette:
    async def healthz(_: Request) -> Response:
        st = status()
        code = 503 if st.get("state") == "failed" else 200
        return JSONResponse(st, status_code=code)

    async def readyz(_: Request) -> Response:
        st = status()
        return JSONResponse(st, status_code=200 if st.get("ready") else 503)

    async def metrics(_: Request) -> Response:
        status()  # refreshes the readiness gauge, so a scrape never reads a stale one
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz),
                             Route("/metrics", metrics)])


async def serve(app: Starlette, host: str, port: int, stop: asyncio.Event) -> None:
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task
