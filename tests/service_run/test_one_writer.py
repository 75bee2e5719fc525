"""One writer per data directory, as a user meets it: a second `run`, a CLI export."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from controller.control.client import ControlClient

from .conftest import RunningService


def _wait(pred, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _second_config(service: RunningService) -> Path:
    """The same data directory under another runtime_dir (another control socket)."""
    text = service.config.read_text().replace(
        f'runtime_dir = "{service.root / "run"}"', f'runtime_dir = "{service.root / "run2"}"')
    assert "run2" in text
    path = service.root / "second.toml"
    path.write_text(text)
    return path


def _committed(client: ControlClient) -> int:
    return int(client.call("status")["store"]["committed_since_start"])


def test_second_run_on_the_same_data_dir_is_refused_and_the_first_keeps_storing(
    service: RunningService,
) -> None:
    service.wait_notify("READY=1")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: _committed(client) > 5, what="records stored")
        for config in (_second_config(service), service.config):
            second = subprocess.run(
                [sys.executable, "-m", "controller", "run", "--config", str(config),
                 "--seconds", "5"], capture_output=True, text=True, timeout=60)
            assert second.returncode != 0
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert f"pid {service.proc.pid}" in lines[0]
            assert str(service.socket_path) in lines[0]
            assert "in use" in lines[0]
        # the first still stores, still fails nothing, still answers on its socket
        before = _committed(client)
        _wait(lambda: _committed(client) > before + 5, what="the first service to store")
        store = client.call("status")["store"]
        assert store["not_stored"] == 0 and store["state"] == "ok"
    assert not (service.root / "run2" / "control.sock").exists()
    assert service.stop() == 0
    log = (service.root / "service.log").read_text()
    assert "store commit failed" not in log and "Traceback" not in log


def _audits(service: RunningService, client: ControlClient) -> list[dict]:  # type: ignore[type-arg]
    from controller.store.handout import HandoutReader, unlock_handed_identity

    from .conftest import PASSPHRASE

    history = client.call("history.fetch", {"kinds": ["audit"]})
    reader = HandoutReader(history, unlock_handed_identity(history, PASSPHRASE))
    return [r.body for r in reader.records()]


def _verify_bundle(service: RunningService, bundle: Path) -> None:
    check = subprocess.run(
        [sys.executable, "-m", "controller", "verify-bundle", str(bundle),
         "--verification-key", service.verification_key],
        capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_cli_export_beside_a_running_service_goes_through_it_and_is_audited(
    service: RunningService,
) -> None:
    service.wait_notify("READY=1")
    out = service.root / "out"
    out.mkdir()
    with ControlClient(service.socket_path) as client:
        _wait(lambda: _committed(client) > 5, what="records stored")
        # no --config: the export's own runtime_dir is not the service's
        export = subprocess.run(
            [sys.executable, "-m", "controller", "export", "--data-dir",
             str(service.root / "data"), "--out", str(out), "--name", "site-a",
             "--kind", "reading"], capture_output=True, text=True, timeout=180)
        assert export.returncode == 0, export.stdout + export.stderr
        assert "audited by the running service" in export.stdout
        _verify_bundle(service, out / "site-a")
        audit = next(a for a in _audits(service, client) if a.get("action") == "export")
        assert audit["bundle"] == "site-a" and audit["by"] == 0
        # the service keeps storing, with nothing lost
        before = _committed(client)
        _wait(lambda: _committed(client) > before + 5, what="the service to keep storing")
        assert client.call("status")["store"]["not_stored"] == 0
    assert service.stop() == 0
    assert "Traceback" not in (service.root / "service.log").read_text()


def test_redacted_export_beside_the_service_reads_only_and_the_service_stores_its_audit(
    service: RunningService,
) -> None:
    from .conftest import PASSPHRASE

    service.wait_notify("READY=1")
    out = service.root / "out"
    out.mkdir()
    passfile = service.root / "pass"
    passfile.write_text(PASSPHRASE + "\n")
    with ControlClient(service.socket_path) as client:
        _wait(lambda: _committed(client) > 5, what="records stored")
        with open(passfile) as fh:
            export = subprocess.run(
                [sys.executable, "-m", "controller", "export", "--data-dir",
                 str(service.root / "data"), "--out", str(out), "--name", "blurred",
                 "--redact", "--identity", str(service.root / "data" / "keys" / "identity.age"),
                 "--passphrase-fd", str(fh.fileno())],
                pass_fds=(fh.fileno(),), capture_output=True, text=True, timeout=180)
        assert export.returncode == 0, export.stdout + export.stderr
        _verify_bundle(service, out / "blurred")
        _wait(lambda: any(a.get("action") == "export" and a.get("bundle") == "blurred"
                          for a in _audits(service, client)), what="the export's audit")
        assert not list((service.root / "data" / "audit-inbox").iterdir())
        before = _committed(client)
        _wait(lambda: _committed(client) > before + 5, what="the service to keep storing")
        assert client.call("status")["store"]["not_stored"] == 0
    assert service.stop() == 0


def test_a_stick_export_beside_the_service_is_audited_by_the_service(
    service: RunningService,
) -> None:
    service.wait_notify("READY=1")
    stick = service.root / "stick"
    stick.mkdir()
    with ControlClient(service.socket_path) as client:
        _wait(lambda: _committed(client) > 5, what="records stored")
        export = subprocess.run(
            [sys.executable, "-m", "controller", "export", "--config", str(service.config),
             "--stick", "/dev/sdz1", "--mountpoint", str(stick), "--label", "EDGEWARDEN"],
            capture_output=True, text=True, timeout=180)
        assert export.returncode == 0, export.stdout + export.stderr
        assert "exported" in export.stdout
        _wait(lambda: any(a.get("action") == "export" and a.get("destination", "")
                          .startswith(str(stick)) for a in _audits(service, client)),
              what="the stick export's audit")
        assert client.call("status")["store"]["not_stored"] == 0
    assert service.stop() == 0
