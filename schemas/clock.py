"""The one port to time. Pure code takes ``now`` as a parameter; a shell that needs the time
(a runner, a connector, a CLI) is given a :class:`Clock` and calls it, so a test hands in a
fixed or stepping clock instead of patching ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Returns the current time, timezone-aware (UTC). Any ``() -> datetime`` function is one."""

    def __call__(self) -> datetime: ...


def utcnow() -> datetime:
    """The wall clock, in UTC: the :class:`Clock` every shell gets by default."""
    return datetime.now(UTC)
