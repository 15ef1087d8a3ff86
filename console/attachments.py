"""Attachment downloads: the bytes are read back from the raw mail the message came in
(``raw.email``), found through the message's ``raw_ref`` -- events never carry them. Always
sent as a download (``application/octet-stream``, ``nosniff``): a customer's HTML or SVG
never renders on the console's origin."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from console.store import ConsoleStore
from console.web import SECURITY_HEADERS, Viewer, Web, guarded
from ingest.mime.attachments_cli import AttachmentUnavailable, attachment_bytes

FetchRaw = Callable[[str], Awaitable[bytes]]  # raw_ref -> the RFC 822 bytes
_UNSAFE = re.compile(r'[^A-Za-z0-9._ -]')


def _ascii_name(filename: str) -> str:
    return _UNSAFE.sub("_", filename).strip() or "attachment"


def attachment_routes(web: Web, store: ConsoleStore, fetch_raw: FetchRaw | None) -> list[Route]:
    async def download(request: Request, viewer: Viewer) -> Response:
        t = store.view.find(request.path_params["ref"])
        message_id, sha = request.path_params["message_id"], request.path_params["sha"]
        found = None
        if t is not None:
            for m in store.view.conversation(t.ticket_id):
                if m.message_id == message_id:
                    found = next((a for a in m.attachments if a.sha256 == sha), None)
        raw_ref = store.raw_refs.get(message_id)
        if found is None or fetch_raw is None or raw_ref is None:
            return web.render(request, "error.html", 404, viewer, message="not_found")
        try:
            data = attachment_bytes(await fetch_raw(raw_ref), found.content_ref or sha)
        except AttachmentUnavailable as exc:
            return web.render(request, "error.html", 404, viewer, message="not_found",
                              detail=str(exc))
        name = found.filename or "attachment"
        return Response(data, media_type="application/octet-stream", headers={
            **SECURITY_HEADERS,
            "Content-Disposition": f"attachment; filename=\"{_ascii_name(name)}\"; "
                                   f"filename*=UTF-8''{quote(name, safe='')}"})

    return [Route("/tickets/{ref}/attachments/{message_id}/{sha}",
                  guarded(web, "agent", download))]
