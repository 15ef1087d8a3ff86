"""Settings of the notify stage (the `[notify]` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
