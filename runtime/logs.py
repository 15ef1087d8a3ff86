"""Structured logging: one JSON object per line (or plain text for humans).

Never log a message body or a full address at INFO; pass identifiers as ``extra`` fields.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


# A line repeated (same logger, level and message template) more than REPEAT_BURST times within
# REPEAT_WINDOW_S is held back: a broker outage made aiokafka write ~4,500 "Unable connect to
# node" lines a second. The first line after a window says how many were held back.
REPEAT_BURST = 5
REPEAT_WINDOW_S = 60.0
REPEAT_MAX_KINDS = 1000  # kinds of line remembered at once


@dataclass(slots=True)
class _Window:
    """One kind of line: when its window started, lines seen in it, lines held back."""

    start: float
    seen: int = 1
    held: int = 0


class RepeatFilter(logging.Filter):
    """Lets each kind of line through ``burst`` times per ``window_s``; counts the rest and
    reports the count as ``suppressed`` on the next line of that kind that goes through."""

    def __init__(self, burst: int = REPEAT_BURST, window_s: float = REPEAT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic,
                 max_kinds: int = REPEAT_MAX_KINDS) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self.max_kinds = max_kinds
        self._seen: dict[tuple[str, int, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        window = self._seen.get(key)
        if window is None or now - window.start >= self.window_s:
            if window is None and len(self._seen) >= self.max_kinds:
                self._seen.clear()  # bounded memory: forget old kinds rather than grow
            if window is not None and window.held:
                record.suppressed = window.held
            self._seen[key] = _Window(now)
            return True
        window.seen += 1
        if window.seen <= self.burst:
            return True
        window.held += 1
        return False


def configure(level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        logging.Formatter.converter = __import__("time").gmtime
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
