"""Repeated log lines are held back: an outage gives a few lines and a count, not gigabytes."""

from __future__ import annotations

import logging

from runtime.logs import RepeatFilter


def _record(msg: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_flood_of_one_line_passes_burst_times_per_window_and_then_says_how_many() -> None:
    now = [0.0]
    f = RepeatFilter(burst=3, window_s=10.0, clock=lambda: now[0])
    passed = [f.filter(_record("Unable connect to node with id %s", i % 3)) for i in range(4500)]
    assert sum(passed) == 3 and passed[:3] == [True, True, True]
    now[0] = 10.0
    first = _record("Unable connect to node with id %s", 1)
    assert f.filter(first) and first.suppressed == 4497
    assert f.filter(_record("Unable connect to node with id %s", 2))
    assert not hasattr(_record("x"), "suppressed")


def test_other_lines_and_loggers_are_counted_apart() -> None:
    f = RepeatFilter(burst=1, window_s=60.0, clock=lambda: 0.0)
    assert f.filter(_record("a"))
    assert not f.filter(_record("a"))
    assert f.filter(_record("b"))
    assert f.filter(_record("a", name="helpline.runner"))


def test_the_kinds_it_remembers_are_bounded() -> None:
    f = RepeatFilter(burst=1, window_s=60.0, clock=lambda: 0.0, max_kinds=10)
    for i in range(100):
        assert f.filter(_record(f"line {i}"))
    assert len(f._seen) <= 10
