"""The runner's murmur2 is Kafka's: the same partition for every key as aiokafka's (and the
Java client's) default partitioner."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.kafka_io import murmur2


@settings(max_examples=2000)
@given(st.binary(max_size=200))
def test_same_hash_as_aiokafka_for_any_bytes(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data)


def test_known_values_of_the_java_client() -> None:
    # org.apache.kafka.common.utils.UtilsTest.testMurmur2 (as signed ints there)
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             bytes([ord("a"), ord("b"), ord("c")]): 479470107}
    for data, signed in cases.items():
        assert murmur2(data) == signed & 0xFFFFFFFF
