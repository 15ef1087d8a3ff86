"""Settings of the email connectors and the normalizer (the ``[email]`` section of the config
file). Validated values, passed down; nothing here reads the environment."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from ingest.chat.settings import ChatSettings


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["ChatSettings", "EmailSettings"]
