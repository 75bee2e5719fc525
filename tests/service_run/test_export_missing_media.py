"""Through the running service: an export whose medium's file is gone from the device
still writes the bundle, declares the medium missing at export, and `export` warns in
one line and exits 0; `verify-bundle` fails naming it. Real service, real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

from controller.config import StoreConfig
from controller.store import RecordWriter

from .conftest import RunningService
from .store_faults import start_service, wait_up

CLI = [sys.executable, "-m", "controller"]


def test_the_service_exports_with_a_missing_medium_declared(service: RunningService) -> None:
    wait_up(service)
    assert service.stop() == 0
    data = service.root / "data"
    with RecordWriter.open(data, StoreConfig()) as writer:
        ref = writer.add_media(b"a snapshot, encrypted on the card", "image/png")
        ticket = writer.append("event", "cam0", "warning", {"label": "person"}, [ref])
        assert ticket.wait_durable(10) and ticket.seq is not None
        seq = ticket.seq
    (data / "media" / f"{ref.sha256}.age").unlink()  # lost behind the database's back
    service.proc = start_service(service.root, service.config)
    wait_up(service)
    stick = service.root / "stick"
    stick.mkdir()
    done = subprocess.run([*CLI, "export", "--config", str(service.config), "--out",
                           str(stick), "--name", "b"],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [x for x in done.stderr.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and f"record {seq}" in warnings[0] and ref.sha256 in warnings[0]
    assert "written and audited by the running service" in done.stdout, done.stdout
    stated = json.loads((stick / "b/data/contents.json").read_bytes())
    assert stated["missing_media"] == [{"seq": seq, "sha256": ref.sha256}]
    checked = subprocess.run([*CLI, "verify-bundle", str(stick / "b"), "--verification-key",
                              service.verification_key],
                             capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    problems = [x for x in checked.stdout.splitlines() if x.startswith("PROBLEM:")]
    assert len(problems) == 1 and f"record {seq}: media {ref.sha256} missing at export" \
        in problems[0], checked.stdout
    assert service.stop() == 0
