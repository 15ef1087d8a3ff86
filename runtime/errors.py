"""The error hierarchy now lives on the ground floor (:mod:`schemas.errors`), where stages may
import it; this module keeps the old import path working."""

from __future__ import annotations

from schemas.errors import (
    BrokerUnavailable,
    ConfigError,
    HelplineError,
    MissingTool,
    RecordTooLarge,
    RetriableStageError,
    StageError,
)

__all__ = [
    "BrokerUnavailable",
    "ConfigError",
    "HelplineError",
    "MissingTool",
    "RecordTooLarge",
    "RetriableStageError",
    "StageError",
]
