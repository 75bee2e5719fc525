"""Evidence export rate: MB/s of a verified bundle (write, fsync, bag checksums, verify,
rename) against `cp -r` of the same payload (the store's media directory) to the same
place, measured in the same run, best of three alternating rounds.

Two baselines, because they answer different questions. `cp -r` returns as soon as the
copy sits in the page cache; a stick pulled then loses it. The export must not return
before its bundle is on the medium, so on a machine whose disk is slower than its memory
the flush alone costs more than the whole `cp -r`: the "disk flush" line measures it
(`sync` after a `cp -r`). `cp -r` + `sync` is the copy a technician can trust as much as an
export (but still unverified); the export is measured against both.

Run: uv run python bench/export_rate.py [MB of media, default 80]
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyrage

from controller.config import StoreConfig
from controller.evidence import Selection, export_bundle
from controller.store import RecordWriter, initialise

CLIP = 2 << 20  # 2 MiB per media file


def build(root: Path, mb: int) -> Path:
    identity = pyrage.x25519.Identity.generate()
    data = root / "data"
    initialise(data, passphrase=None, identity_on_device=False,
               extra_recipients=[str(identity.to_public())])
    cfg = StoreConfig(commit_interval_ms=5, reserved_space_mb=1, shed_margin_mb=1)
    with RecordWriter.open(data, cfg) as w:
        last = None
        for i in range(max(1, mb * (1 << 20) // CLIP)):
            ref = w.add_media(os.urandom(CLIP), "video/mp4")
            last = w.append("event", "cam0", "warning", {"n": i}, [ref], t_wall=1.7e9 + i)
            for j in range(20):
                w.append("reading", "node0/temp", "info", {"v": j}, t_wall=1.7e9 + i + j / 100)
        assert last is not None and last.wait_durable(30)
    return data


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    logging.getLogger("bagit").setLevel(logging.WARNING)
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 80
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        root = Path(tmp)
        print(f"building a store with {mb} MB of media ...", flush=True)
        data = build(root, mb)
        payload = tree_size(data / "media")
        dest = root / "stick"
        dest.mkdir()
        subprocess.run(["cp", "-r", str(data / "media"), str(dest / "warm")], check=True)
        shutil.rmtree(dest / "warm")  # page cache equally warm for both

        best_cp, best_cp_sync, best_export = float("inf"), float("inf"), float("inf")
        for run in range(3):
            t = time.perf_counter()
            subprocess.run(["cp", "-r", str(data / "media"), str(dest / f"cp{run}")], check=True)
            best_cp = min(best_cp, time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["cp", "-r", str(data / "media"), str(dest / f"cps{run}")],
                           check=True)
            os.sync()
            best_cp_sync = min(best_cp_sync, time.perf_counter() - t)
            t = time.perf_counter()
            result = export_bundle(data, dest, Selection(), now=1.8e9 + run, name=f"b{run}")
            best_export = min(best_export, time.perf_counter() - t)
            assert result.report.ok
            for name in (f"cp{run}", f"cps{run}", f"b{run}"):
                shutil.rmtree(dest / name)

        mbs = payload / 1e6
        print(f"payload: {mbs:.1f} MB of media ({result.records} records, "
              f"{result.media_files} media files); bundle {result.bytes_written / 1e6:.1f} MB")
        print(f"cp -r          : {mbs / best_cp:8.1f} MB/s  ({best_cp:.3f} s)")
        print(f"cp -r + sync   : {mbs / best_cp_sync:8.1f} MB/s  ({best_cp_sync:.3f} s)")
        print(f"export+verify  : {mbs / best_export:8.1f} MB/s  ({best_export:.3f} s)")
        print(f"disk flush     : {best_cp_sync - best_cp:.3f} s of cp -r + sync "
              f"({(best_cp_sync - best_cp) / best_cp:.1f}x the whole cp -r)")
        print(f"ratio export / cp -r        : {best_cp / best_export:.2f}  (target >= 0.7)")
        print(f"ratio export / cp -r + sync : {best_cp_sync / best_export:.2f}  "
              "(same durability)")


if __name__ == "__main__":
    main()
