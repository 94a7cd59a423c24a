"""Shared fixtures of the data-preparation tests: where the real data lives, and skipping cleanly without it."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real data folder (../shared/data from the repo root); skips the test when absent."""
    if not (DATA / "README.md").is_file():
        pytest.skip(f"real data not found at {DATA} (the shared data folder sits beside the repository)")
    return DATA
