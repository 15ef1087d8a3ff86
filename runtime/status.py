"""What a worker's health endpoints report about its stage runner."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RunnerStatus:
    """What health endpoints report."""

    stage: str
    # starting / restoring / (joining / taking-over) / running or standby / stopped / failed
    state: str = "starting"
    error: str | None = None
    last_batch_at: float | None = None
    records_in: int = 0
    records_out: int = 0
    dead_letters: int = 0

    @property
    def ready(self) -> bool:
        # a warm standby is healthy and ready to take over (a rollout must not wait on it)
        return self.state in ("running", "standby")
