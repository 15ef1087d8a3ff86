"""Sign-in throttling: after ``max_failures`` wrong passwords for one agent id (or from one
client address) within ``window_s``, further attempts are refused until the window has
passed, so a password cannot be guessed at the speed of the network. Pure: time is a
parameter; the state is a small bounded dict."""

from __future__ import annotations

from collections import OrderedDict

MAX_KEYS = 10_000  # distinct names/addresses tracked; the oldest are forgotten first


class SignInThrottle:
    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, ()) if now - t < self.window_s]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked(self, keys: tuple[str, ...], now: float) -> bool:
        return any(len(self._recent(k, now)) >= self.max_failures for k in keys)

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        for k in keys:
            self._failures.setdefault(k, []).append(now)
            self._failures.move_to_end(k)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for k in keys:
            self._failures.pop(k, None)
