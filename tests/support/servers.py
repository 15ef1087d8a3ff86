"""What to do when a real server the integration tier needs is not installed."""

from __future__ import annotations

import os

import pytest


def require(what: str, install: str) -> None:
    """On a developer's machine: skip, saying what to install. In CI (``CI`` set), where
    ``scripts/setup`` installs every server: fail, so a broken install never passes as skips."""
    message = f"{what} is not installed ({install}; `make test` installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
