"""`edgewarden run` on a config, as a child process: wait for its socket, stop it cleanly.

Shared by the end-to-end tests that write their own config (cameras, plates, tamper); the
`service` fixture in conftest.py serves the ones that run on the simulated fleet.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def running_service(cfg: Path, root: Path) -> Iterator[Path]:
    """Run the service on `cfg` (log in `root`/service.log, socket in `root`/run); yields
    the control socket's path and asserts on leaving that SIGTERM stopped it with status 0."""
    log_path = root / "service.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "controller", "run", "--config",
                                 str(cfg)], cwd=REPO_ROOT,
                                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stderr=log)
        sock = root / "run" / "control.sock"
        try:
            deadline = time.monotonic() + 30
            while not sock.exists():
                assert proc.poll() is None and time.monotonic() < deadline, \
                    log_path.read_text()
                time.sleep(0.05)
            time.sleep(0.2)
            yield sock
        finally:
            proc.terminate()
            assert proc.wait(30) == 0
