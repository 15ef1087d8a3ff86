"""Token-bucket rate limits per visitor and per client address. Time is a parameter.

The buckets live in memory, bounded by ``max_keys`` (least recently used evicted first), so a
flood of distinct addresses costs a fixed amount of memory. Limits are per service replica.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int = 0  # whole seconds until one request would pass again


class TokenBuckets:
    def __init__(self, per_minute: float, burst: int, max_keys: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self._burst, now))
        return min(self._burst, tokens + max(0.0, now - at) * self._rate)

    def check(self, key: str, now: float) -> Verdict:
        """Whether one more request may pass; does not spend a token."""
        tokens = self._level(key, now)
        if tokens >= 1.0:
            return Verdict(True)
        return Verdict(False, max(1, math.ceil((1.0 - tokens) / self._rate)))

    def take(self, key: str, now: float) -> Verdict:
        """Spend one token if there is one."""
        verdict = self.check(key, now)
        if verdict.allowed:
            self._buckets[key] = (self._level(key, now) - 1.0, now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return verdict

    def __len__(self) -> int:
        return len(self._buckets)
