"""Settings of the normalize stage (the ``[normalize]`` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class NormalizeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
