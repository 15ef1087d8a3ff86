"""What a worker's health endpoints report about its stage runner."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunnerState(StrEnum):
    """Where a stage runner is in its life (a ``str``: health endpoints report the value)."""

    STARTING = "starting"
    RESTORING = "restoring"  # reading its tables up to their end
    JOINING = "joining"  # a single-writer stage, until the group says active or standby
    TAKING_OVER = "taking-over"  # became active: running once its tables are current
    RUNNING = "running"
    STANDBY = "standby"  # a warm standby of a single-writer stage
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class RunnerStatus:
    """What health endpoints report."""

    stage: str
    state: RunnerState = RunnerState.STARTING
    error: str | None = None
    last_batch_at: float | None = None
    records_in: int = 0
    records_out: int = 0
    dead_letters: int = 0

    @property
    def ready(self) -> bool:
        # a warm standby is healthy and ready to take over (a rollout must not wait on it)
        return self.state in (RunnerState.RUNNING, RunnerState.STANDBY)
