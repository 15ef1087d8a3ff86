"""Generic webhooks for alerts: Slack/Teams-compatible JSON, HMAC-signed.

Body shapes: ``slack`` is an incoming-webhook message (``text`` with mrkdwn), ``teams`` a
legacy connector MessageCard (``@type``/``summary``/``text``), ``generic`` the ``text`` plus a
structured ``helpline`` object. All three carry the same ``helpline`` object (both chat tools
ignore unknown keys), so one receiver can parse any of them.

Signature (when the target has a secret): ``X-Helpline-Signature: t=<unix>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, f"{t}.{body}")`` — the Stripe scheme, so receivers can reject
replays older than a few minutes. ``X-Helpline-Notification-Id`` is an idempotency key.

HTTP client: httpx's ``AsyncClient`` — async (the stdlib has no async HTTP client; urllib in a
thread would hold one thread per slow webhook), pooled keep-alive connections, per-request
timeouts, and already used by the project's tests. It must move from the ``test`` extra to the
runtime dependencies.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from notify.settings import WebhookFormat
from notify.transport import DeliveryError

SIGNATURE_HEADER = "X-Helpline-Signature"
ID_HEADER = "X-Helpline-Notification-Id"


def webhook_body(fmt: WebhookFormat, title: str, text: str, facts: Mapping[str, str]) -> bytes:
    structured = {"title": title, **facts}
    payload: dict[str, Any]
    if fmt == "teams":
        payload = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "title": title,
            "text": text.replace("\n", "  \n"),
            "helpline": structured,
        }
    elif fmt == "slack":
        payload = {"text": f"*{title}*\n{text}", "helpline": structured}
    else:
        payload = {"text": text, "helpline": structured}
    return orjson.dumps(payload)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does (used by our tests): recompute and compare in constant time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        expected = signature(secret, int(parts.get("t", "")), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, header)


def signed_headers(
    secret: str, timestamp: int, body: bytes, notification_id: str
) -> dict[str, str]:
    out = {"Content-Type": "application/json", ID_HEADER: notification_id}
    if secret:
        out[SIGNATURE_HEADER] = signature(secret, timestamp, body)
    return out


class HttpxWebhooks:
    def __init__(self, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str:
        try:
            response = await self._client.post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"webhook timeout: {exc}", retriable=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {exc}", retriable=True) from exc
        reply = f"{response.status_code} {response.text[:200]}".strip()
        if response.status_code >= 500 or response.status_code in (408, 425, 429):
            raise DeliveryError("webhook busy", retriable=True, server_reply=reply,
                                code=response.status_code)
        if response.status_code >= 300:
            raise DeliveryError("webhook refused", retriable=False, server_reply=reply,
                                code=response.status_code)
        return reply

    async def close(self) -> None:
        await self._client.aclose()
