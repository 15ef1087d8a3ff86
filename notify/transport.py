"""The notifier's ports to the outside: a mail transport and a webhook poster, and the one
error they raise. ``retriable`` decides between backoff and the dead-letter path; the server's
own words travel in ``server_reply``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from notify.compose import OutboundMail
from schemas.errors import DeliveryError, JournalUnavailable, TemporaryDeliveryError

__all__ = [
    "DeliveryError", "JournalUnavailable", "MailTransport", "TemporaryDeliveryError",
    "WebhookPoster",
]


class MailTransport(Protocol):
    async def send(self, mail: OutboundMail) -> str:
        """Hand the mail to the relay. Returns the server's acceptance reply; raises
        :class:`DeliveryError`."""
        ...

    async def close(self) -> None: ...


class WebhookPoster(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str:
        """POST ``body``; returns a short description of the response; raises
        :class:`DeliveryError` (5xx, 429, timeouts retriable; other 4xx permanent)."""
        ...

    async def close(self) -> None: ...
