"""Settings of the chat service (the ``[chat]`` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
