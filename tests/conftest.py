"""Fixtures shared by every test area."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Tests never assert on timings: a property test's example may take as long as a loaded
# CI machine needs (hypothesis' 200 ms deadline and too-slow check would fail it).
settings.register_profile("edgewarden", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("edgewarden")


def shared_data_dir() -> Path:
    """Real third-party data: $EDGEWARDEN_SHARED_DATA, else ../shared/data beside the repo."""
    env = os.environ.get("EDGEWARDEN_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The shared data folder; the test is skipped (with the reason) when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not present at {path} (set EDGEWARDEN_SHARED_DATA)")
    return path


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`-n`), a short base temp dir: xdist adds `popen-gwN/` to every
    tmp_path, and the service's control socket under it must fit AF_UNIX's 108 bytes."""
    if (getattr(config.option, "numprocesses", None) and config.option.basetemp is None
            and not hasattr(config, "workerinput")):
        config.option.basetemp = tempfile.mkdtemp(prefix="ew-")
