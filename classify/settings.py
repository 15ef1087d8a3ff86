"""Settings of the classify stage (the `[classify]` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ClassifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
