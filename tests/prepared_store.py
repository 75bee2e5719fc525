"""One `initialise(passphrase=...)` per test process, copied into each test that only needs
a fresh store to run the service on.

Why: sealing the identity to a passphrase costs age's scrypt (about 2 s: age times scrypt to
pick its work factor, then encrypts), and dozens of service tests each need a store but test
nothing about its creation. Tests of `init` itself keep calling `initialise`. A copy keeps the
modes (files 0600, dirs 0700); every test gets its own copy, so no state is shared.
"""

from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
from pathlib import Path

from controller.store import InitResult, initialise

_made: dict[str, InitResult] = {}
_cache_root: Path | None = None


def _root() -> Path:
    global _cache_root
    if _cache_root is None:
        _cache_root = Path(tempfile.mkdtemp(prefix="ew-prepared-store-"))
        atexit.register(shutil.rmtree, _cache_root, True)
    return _cache_root


def initialised_copy(data_dir: Path, passphrase: str) -> InitResult:
    """A store as `initialise(data_dir, passphrase=passphrase)` makes it (identity on the
    device), copied from this process's one prepared store. Only for one store per test:
    two copies share keys and store id."""
    made = _made.get(passphrase)
    if made is None:
        made = initialise(_root() / f"store-{len(_made)}", passphrase=passphrase)
        _made[passphrase] = made
    shutil.copytree(made.data_dir, data_dir, symlinks=True, dirs_exist_ok=True)
    return dataclasses.replace(made, data_dir=data_dir)
