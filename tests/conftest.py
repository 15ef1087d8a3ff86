"""Fixtures shared by every tier.

Integration fixtures start real servers. ``kafka`` is a real Apache Kafka broker (KRaft, one
node) started once per test session on free loopback ports; set ``HELPLINE_TEST_BOOTSTRAP``
to run the suite against a broker that is already running instead (a `helpline kafka up`
broker during development). ``kafka_conn`` gives each test its own topic namespace, with every
topic of the registry created.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Properties are checked for what they assert, never for how fast inputs are generated or how
# long one example takes: a loaded 2-core CI machine made the too_slow health check and the
# per-example deadline fail tests that were right. Speed is the benchmarks' business.
settings.register_profile(
    "helpline", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("helpline")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"


class ExternalKafka:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A running broker: ``.bootstrap`` is its address."""
    external = os.environ.get("HELPLINE_TEST_BOOTSTRAP")
    if external:
        yield ExternalKafka(external)
        return
    from runtime.kafka import running_cluster
    from runtime.settings import LocalKafkaSettings

    with running_cluster(LocalKafkaSettings(), tmp_path_factory.mktemp("kafka"),
                         root=REPO_ROOT) as cluster:
        yield cluster


@pytest.fixture
def kafka_conn(kafka: object) -> object:
    """A fresh topic namespace (unique prefix) on the session broker, all topics created."""
    from runtime.kafka_io import create_topics
    from schemas.stage import KafkaConnection

    conn = KafkaConnection(
        bootstrap_servers=kafka.bootstrap,  # type: ignore[attr-defined]
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
    )
    asyncio.run(create_topics(conn, partitions=2))
    return conn


@pytest.fixture
def kafka_cluster3(tmp_path: Path) -> Iterator[object]:
    """Three brokers, each also a KRaft controller, for fault tests (``.kill(n)``)."""
    from runtime.kafka import running_cluster
    from runtime.settings import LocalKafkaSettings

    with running_cluster(LocalKafkaSettings(heap="384m"), tmp_path / "kafka3", size=3,
                         root=REPO_ROOT) as cluster:
        yield cluster


@pytest.fixture
def corpus() -> Path:
    """``../shared/corpus`` beside the clone; tests using it skip where it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus not present beside the clone")
    return CORPUS
