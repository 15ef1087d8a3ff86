"""The local broker's launcher: clear messages when a tool is missing, configs that make a
real KRaft quorum."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import MissingTool
from runtime.kafka import KafkaCluster, fetch, new_cluster_id
from runtime.settings import LocalKafkaSettings


def test_missing_maven_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither mvn nor java here
    cfg = LocalKafkaSettings(cache_dir="cache", version="9.9.9")
    with pytest.raises(MissingTool, match=r"'mvn' was not found.*install Maven"):
        fetch(cfg, tmp_path)


def test_three_node_configs_share_one_static_quorum(tmp_path: Path) -> None:
    cluster = KafkaCluster(libs=tmp_path, base_dir=tmp_path, size=3)
    from runtime.kafka import KafkaNode

    cluster.nodes = [KafkaNode(i, 9000 + i, 9100 + i, tmp_path / f"n{i}") for i in (1, 2, 3)]
    props = [dict(line.split("=", 1) for line in cluster._properties(n).splitlines())
             for n in cluster.nodes]
    voters = {p["controller.quorum.voters"] for p in props}
    assert voters == {"1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"}
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert all(p["offsets.topic.replication.factor"] == "3" for p in props)
    assert all(p["auto.create.topics.enable"] == "false" for p in props)


def test_cluster_ids_are_kafka_uuids() -> None:
    ids = {new_cluster_id() for _ in range(2000)}  # ~1 in 64 raw ids would start with "-"
    assert len(ids) == 2000
    assert all(len(i) == 22 and "=" not in i and not i.startswith("-") for i in ids)
