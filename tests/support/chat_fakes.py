"""Small real stand-ins for the chat service's ports (unit tier only)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.chat.settings import ChatSettings, RateLimit, SiteSettings
from schemas.topics import TopicSpec

ORIGIN = "https://shop.example"
SECRET = "acme-site-secret"


@dataclass
class MemoryPublisher:
    """Keeps what was published; ``down`` makes it fail like an unreachable broker,
    ``delay_s`` makes it slow."""

    published: list[tuple[TopicSpec, bytes, Any]] = field(default_factory=list)
    down: bool = False
    delay_s: float = 0.0

    async def publish(self, topic: TopicSpec, key: bytes, value: Any) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.down:
            raise ConnectionError("broker not reachable")
        self.published.append((topic, key, value))

    def on(self, topic: TopicSpec) -> list[Any]:
        return [v for t, _k, v in self.published if t == topic]


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def chat_settings(**overrides: Any) -> ChatSettings:
    sites = (
        SiteSettings(id="acme", allowed_origins=(ORIGIN, "self"), secret=SECRET,
                     availability="online"),
        SiteSettings(id="bank", allowed_origins=(ORIGIN,), secret="bank-secret",
                     require_identity=True, availability="offline"),
        SiteSettings(id="team", allowed_origins=(ORIGIN,), availability="agents",
                     agent_teams=("billing",)),
        SiteSettings(id="strict", allowed_origins=(ORIGIN,), require_email=True,
                     pre_chat_fields=("email",)),
    )
    values: dict[str, Any] = {
        "sites": sites,
        "port": 0,
        "visitor_messages": RateLimit(per_minute=60, burst=5),
        "ip_messages": RateLimit(per_minute=600, burst=50),
        "ip_conversations": RateLimit(per_minute=60, burst=20),
        "max_body_bytes": 4096,
        "max_message_chars": 500,
        "left_after_s": 60.0,
    }
    values.update(overrides)
    return ChatSettings(**values)
