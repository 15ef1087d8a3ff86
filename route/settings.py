"""Settings of the route stage (the `[route]` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RouteSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
