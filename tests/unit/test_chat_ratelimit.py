"""Token buckets: a burst passes, the next request waits, tokens refill with time."""

from __future__ import annotations

from ingest.chat.ratelimit import TokenBuckets


def test_burst_then_refused_with_retry_after() -> None:
    buckets = TokenBuckets(per_minute=6, burst=3, max_keys=100)
    assert [buckets.take("v", 0.0).allowed for _ in range(4)] == [True, True, True, False]
    refused = buckets.take("v", 0.0)
    assert not refused.allowed and refused.retry_after_s == 10  # one token per 10 s
    assert buckets.take("v", 10.0).allowed
    assert not buckets.take("v", 10.0).allowed


def test_keys_are_independent_and_bounded() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1, max_keys=2)
    assert buckets.take("a", 0.0).allowed
    assert not buckets.take("a", 0.0).allowed
    assert buckets.take("b", 0.0).allowed
    assert buckets.take("c", 0.0).allowed
    assert len(buckets) == 2  # "a" (least recently used) was evicted


def test_check_does_not_spend() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1, max_keys=10)
    assert buckets.check("v", 0.0).allowed
    assert buckets.check("v", 0.0).allowed
    assert buckets.take("v", 0.0).allowed
    assert not buckets.check("v", 0.5).allowed
    assert buckets.check("v", 1.0).allowed
