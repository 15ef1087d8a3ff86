"""The Containerfile builds with Debian's podman, and the image runs: ``helpline --help``, and
one worker (normalize) against the test broker, turning a raw mail into a message, answering
its own HEALTHCHECK, and stopping cleanly on SIGTERM. It runs as uid 10001.

The public slim Python base cannot be pulled here, so the test builds the base the way
deploy/README.md tells an air-gapped site to: a Debian rootfs from Debian's packages
(mmdebstrap) imported as ``localhost/helpline-base:bookworm`` (kept in podman's storage; the
first build takes minutes, later ones reuse it), passed through the ``BASE`` build argument.
Skipped, with the runtime's own words, only where this machine cannot run a container at all."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from runtime.kafka import free_port
from schemas.raw import RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import MESSAGES, RAW_EMAIL
from tests.support.kafka import produce, read_topic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BASE = "localhost/helpline-base:bookworm"
IMAGE = "localhost/helpline:test"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
# lowering limits needs no privilege; podman's defaults raise them, which a container in a
# sandbox without CAP_SYS_RESOURCE may not do
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
WAIT_S = 120


def podman(*args: str, timeout: float = 600, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {done.stderr[-3000:]}")
    return done


def runtime_args() -> list[str]:
    # runc copes with cgroup v1 / hybrid hosts, where crun refuses ("cgroups in hybrid mode
    # not supported"); the default runtime elsewhere
    return ["--runtime", "runc"] if shutil.which("runc") else []


def build_base() -> None:
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return
    assert shutil.which("mmdebstrap"), "mmdebstrap not installed (scripts/setup installs it)"
    with tempfile.TemporaryDirectory() as tmp:
        tar = Path(tmp) / "base.tar"
        done = subprocess.run(
            ["mmdebstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm",
             str(tar)], capture_output=True, text=True, timeout=1500, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        podman("import", str(tar), BASE)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if not shutil.which("podman"):
        pytest.fail("podman not installed (scripts/setup installs it)")
    build_base()
    probe = podman("run", "--rm", *runtime_args(), *LIMITS, "--network=host", BASE, "true",
                   check=False)
    if probe.returncode != 0:
        pytest.skip(f"this machine cannot run a container: {probe.stderr.strip()}")
    # --format docker: the OCI image format has no HEALTHCHECK. The host's CA store is mounted
    # for the build only, so pip trusts what this host trusts (a TLS-inspecting proxy's CA).
    podman("build", "--format", "docker", "--isolation=chroot", "--network=host", *LIMITS,
           "-v", "/etc/ssl/certs:/etc/ssl/certs:ro", "--build-arg", f"BASE={BASE}",
           "-t", IMAGE, "-f", str(REPO / "Containerfile"), str(REPO), timeout=1500)
    yield IMAGE


def test_the_image_runs_helpline_as_a_non_root_user(image: str) -> None:
    done = podman("run", "--rm", *runtime_args(), *LIMITS, "--network=host", image, "--help")
    assert "worker" in done.stdout and "topics" in done.stdout
    who = podman("run", "--rm", *runtime_args(), *LIMITS, "--network=host",
                 "--entrypoint", "id", image, "-u")
    assert who.stdout.strip() == "10001"
    config = podman("image", "inspect", "--format",
                    "{{.Config.User}} {{json .Config.Healthcheck.Test}}", image).stdout
    assert config.startswith("10001 ") and "/healthz" in config


def test_a_worker_in_the_image_processes_a_mail_from_the_test_broker(
    image: str, kafka_conn: KafkaConnection
) -> None:
    port = free_port()
    name = f"helpline-test-{port}"
    podman("run", "-d", "--name", name, *runtime_args(), *LIMITS, "--network=host",
           "-e", f"HELPLINE_KAFKA__BOOTSTRAP_SERVERS={kafka_conn.bootstrap_servers}",
           "-e", f"HELPLINE_KAFKA__TOPIC_PREFIX={kafka_conn.topic_prefix}",
           "-e", "HELPLINE_OBSERVABILITY__HTTP_HOST=127.0.0.1",
           "-e", f"HELPLINE_OBSERVABILITY__HTTP_PORT={port}",
           image, "worker", "normalize")
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            logs = podman("logs", name, check=False)
            assert time.monotonic() < deadline, logs.stdout[-2000:] + logs.stderr[-2000:]
            time.sleep(0.5)
        mail = (b"From: Ada <ada@example.org>\r\nTo: support@acme.test\r\n"
                b"Message-ID: <image-1@example.org>\r\nSubject: hello from a container\r\n\r\n"
                b"hi\r\n")
        raw = RawEmail(source="smtp", mailbox="support", raw=mail,
                       received_at=datetime.now(UTC))
        asyncio.run(produce(kafka_conn, RAW_EMAIL, [(b"support", raw)]))
        got = asyncio.run(read_topic(kafka_conn, MESSAGES, expect=1, timeout_s=60))
        assert [c.value.subject for c in got] == ["hello from a container"]
        health = podman("healthcheck", "run", name, check=False)
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        podman("stop", "--time", "30", name, check=False)
        status = podman("inspect", "--format", "{{.State.ExitCode}}", name, check=False)
        podman("rm", "-f", name, check=False)
    assert status.stdout.strip() == "0", "SIGTERM: the worker commits and exits 0"
