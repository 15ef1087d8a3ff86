"""Settings of the tickets stage (the `[tickets]` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
