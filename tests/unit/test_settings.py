"""Settings are validated once, with errors that name the key; the CLI exits 2 on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runtime.errors import ConfigError
from runtime.settings import load_settings


def test_environment_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "helpline.toml"
    cfg.write_text('[kafka]\npartitions = 8\ntopic_prefix = "acme."\n')
    s = load_settings(cfg, env={"HELPLINE_KAFKA__PARTITIONS": "12"})
    assert s.kafka.partitions == 12
    assert s.kafka.topic_prefix == "acme."


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"HELPLINE_KAFKA__PARTITIONS": "many"}, "kafka.partitions"),
        ({"HELPLINE_KAFKA__PARTITIONS": "0"}, "kafka.partitions"),
        ({"HELPLINE_KAFKA__SECURITY_PROTOCOL": "CARRIER_PIGEON"}, "kafka.security_protocol"),
        ({"HELPLINE_RUNNER__BATCH_MAX_RECORDS": "-1"}, "runner.batch_max_records"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    assert err.value.key == key


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    cfg = tmp_path / "helpline.toml"
    cfg.write_text("[kafka]\nbootstrap = 'x'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert err.value.key == "kafka.bootstrap"


def test_broken_toml_names_the_position(tmp_path: Path) -> None:
    cfg = tmp_path / "helpline.toml"
    cfg.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_settings(cfg, env={})


def test_cli_exits_2_naming_the_key(tmp_path: Path) -> None:
    env = {"HELPLINE_KAFKA__PARTITIONS": "lots", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "topics", "list"], env=env,
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "kafka.partitions" in proc.stderr


def test_cli_without_broker_names_what_to_do(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "topics", "list"],
                          env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "helpline kafka up" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_with_unreachable_broker_names_the_address(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    proc = subprocess.run([sys.executable, "-m", "runtime.cli", "topics", "create"], env=env,
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr
