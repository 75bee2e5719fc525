"""`edgewarden install` into a temp DESTDIR; systemd-analyze on the installed units."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from controller.cli import main
from controller.config import Config, parse_config
from controller.errors import UsageError
from controller.system.install import (
    config_skeleton,
    forward_groups,
    install,
    membership_commands,
    render_unit,
)

REPO = Path(__file__).resolve().parents[2]
EXEC = str(Path(sys.executable).parent / "edgewarden")  # the venv's real entry point

FILES = {
    "etc/systemd/system/edgewarden.service": 0o644,
    "etc/systemd/system/edgewarden-export@.service": 0o644,
    "etc/systemd/system/edgewarden-forward.service": 0o644,
    "etc/udev/rules.d/90-edgewarden-nodes.rules": 0o644,
    "etc/udev/rules.d/91-edgewarden-export.rules": 0o644,
    "etc/edgewarden/config.toml": 0o640,
}


def snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.is_file()}


def test_install_into_destdir_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    assert main(["install", "--destdir", str(tmp_path), "--exec", EXEC]) == 0
    out = capsys.readouterr().out
    assert "created" in out and "not created under --destdir" in out
    for rel, mode in FILES.items():
        p = tmp_path / rel
        assert p.is_file(), rel
        assert stat.S_IMODE(p.stat().st_mode) == mode, rel
    assert stat.S_IMODE((tmp_path / "etc/edgewarden").stat().st_mode) == 0o750
    unit = (tmp_path / "etc/systemd/system/edgewarden.service").read_text()
    assert f"ExecStart={EXEC} run --config /etc/edgewarden/config.toml" in unit
    rule = (tmp_path / "etc/udev/rules.d/91-edgewarden-export.rules").read_text()
    assert 'ENV{ID_FS_LABEL}!="EDGEWARDEN"' in rule and "@LABEL@" not in rule

    before = snapshot(tmp_path)
    assert main(["install", "--destdir", str(tmp_path), "--exec", EXEC]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert snapshot(tmp_path) == before  # not even rewritten


def test_install_repairs_drift_and_keeps_config(tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    unit = tmp_path / "etc/systemd/system/edgewarden.service"
    unit.write_text("tampered")
    rules = tmp_path / "etc/udev/rules.d/90-edgewarden-nodes.rules"
    rules.chmod(0o666)
    cfg = tmp_path / "etc/edgewarden/config.toml"
    cfg.write_text('[device]\nname = "mine"\n')
    changes = {c.what: c.action for c in install(tmp_path, None, EXEC)}
    assert changes["/etc/systemd/system/edgewarden.service"] == "updated"
    assert changes["/etc/udev/rules.d/90-edgewarden-nodes.rules"] == "updated"
    assert changes["/etc/edgewarden/config.toml"] == "kept"
    assert "Type=notify" in unit.read_text()
    assert stat.S_IMODE(rules.stat().st_mode) == 0o644
    assert cfg.read_text() == '[device]\nname = "mine"\n'


def test_export_label_comes_from_argument_or_existing_config(tmp_path: Path) -> None:
    rule = tmp_path / "etc/udev/rules.d/91-edgewarden-export.rules"
    install(tmp_path, "EVIDENCE_1", EXEC)
    assert 'ENV{ID_FS_LABEL}!="EVIDENCE_1"' in rule.read_text()
    cfg_text = (tmp_path / "etc/edgewarden/config.toml").read_text()
    assert parse_config(cfg_text).export.stick_label == "EVIDENCE_1"
    # a later run without --config-label keeps the configured label
    assert {c.action for c in install(tmp_path, None, EXEC)} <= {"unchanged", "kept", "skipped"}


@pytest.mark.parametrize("label", ['X" RUN+="/bin/sh', "", "a" * 17, "has space", "é"])
def test_bad_labels_are_refused_before_writing(tmp_path: Path, label: str) -> None:
    with pytest.raises(UsageError, match="label"):
        install(tmp_path, label, EXEC)
    assert list(tmp_path.iterdir()) == []


def test_bad_exec_path_is_refused() -> None:
    with pytest.raises(UsageError, match="absolute"):
        render_unit("ExecStart=/usr/bin/edgewarden run", "edgewarden")


def test_config_skeleton_uncommented_gives_the_defaults() -> None:
    text = config_skeleton()
    assert parse_config(text) == Config()  # as shipped: valid, all defaults
    lines = []
    for line in text.splitlines():
        m = re.match(r"^# ([a-z_]+ = .+)$", line)
        if m and "unset by default" not in line:
            lines.append(m.group(1))
        else:
            lines.append(line)
    assert parse_config("\n".join(lines)) == Config()


def test_forwarder_gets_the_ops_group_only_with_inbound_commands(tmp_path: Path) -> None:
    unit = tmp_path / "etc/systemd/system/edgewarden-forward.service"
    install(tmp_path, None, EXEC)
    assert "SupplementaryGroups=edgewarden edgewarden-view\n" in unit.read_text()
    config = tmp_path / "etc/edgewarden/config.toml"
    config.write_text("[forward]\nurl = \"mqtt://127.0.0.1:1883\"\ninbound_commands = true\n"
                      "[control]\nview_group = \"site-view\"\n")
    install(tmp_path, None, EXEC)
    assert ("SupplementaryGroups=edgewarden site-view edgewarden-ops\n"
            in unit.read_text())


def test_forwarder_membership_is_reconciled_without_touching_foreign_groups() -> None:
    roles = ["edgewarden", "edgewarden-view", "edgewarden-ops", "edgewarden-admin"]
    on = forward_groups(parse_config("[forward]\nurl = \"mqtt://h:1883\"\n"
                                     "inbound_commands = true\n"))
    assert on == ["edgewarden", "edgewarden-view", "edgewarden-ops"]
    u = "edgewarden-forward"
    assert membership_commands(u, {"edgewarden", "edgewarden-view"}, on, roles) == [
        ["usermod", "--append", "--groups", "edgewarden-ops", u]]
    off = forward_groups(Config())
    assert membership_commands(u, {"edgewarden", "edgewarden-view", "edgewarden-ops",
                                   "adm"}, off, roles) == [
        ["gpasswd", "--delete", u, "edgewarden-ops"]]
    assert membership_commands(u, set(off), off, roles) == []


# ------------------------------------------------------------------ systemd-analyze
needs_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                   reason="systemd-analyze not installed (CI installs it)")


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    # Verified on the host by file path: the ExecStart (--exec) is this venv's real
    # edgewarden, so "command not found" cannot occur, and the host provides the targets
    # (--root=DESTDIR would lack sysinit.target and /bin/kill and report those instead).
    install(tmp_path, None, EXEC)
    units = tmp_path / "etc/systemd/system"
    for unit in ("edgewarden.service", "edgewarden-export@sda1.service"):
        r = subprocess.run(["systemd-analyze", "verify", str(units / unit)],
                           capture_output=True, text=True, timeout=60)
        complaints = [ln for ln in (r.stdout + r.stderr).splitlines() if "edgewarden" in ln]
        assert r.returncode == 0 and complaints == [], r.stdout + r.stderr


@needs_analyze
def test_systemd_analyze_security_exposure_at_most_2(tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    unit = tmp_path / "etc/systemd/system/edgewarden.service"
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for edgewarden\.service: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0


def test_unit_has_the_required_settings() -> None:
    unit = (REPO / "systemd/edgewarden.service").read_text()
    for setting in ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure",
                    "User=edgewarden", "SupplementaryGroups=dialout video",
                    "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX",
                    "ProtectSystem=strict", "NoNewPrivileges=yes", "DevicePolicy=closed",
                    "StateDirectory=edgewarden", "ConfigurationDirectory=edgewarden",
                    "RuntimeDirectory=edgewarden", "RuntimeDirectoryMode=0750"):
        assert setting in unit, setting


def test_unit_does_not_hide_peers_behind_a_user_namespace() -> None:
    # PrivateUsers=yes maps only root and the service's own user into the service: every
    # other peer of the control socket then reads as "nobody" through SO_PEERCRED, so an
    # admin over SSH (and the forwarder's own user) would be refused a role.
    for unit in ("edgewarden.service",):
        settings = [ln.strip() for ln in (REPO / "systemd" / unit).read_text().splitlines()
                    if not ln.lstrip().startswith("#")]
        assert not any(s.startswith("PrivateUsers=") and not s.endswith("=no")
                       for s in settings), unit


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                    or shutil.which("setpriv") is None or not Path("/usr/bin/python3").exists(),
                    reason="needs root, unshare and setpriv to start a user namespace")
def test_a_peer_seen_from_a_user_namespace_loses_its_uid() -> None:
    # Why the test above matters: the service's own peer lookup, run inside a namespace
    # like PrivateUsers= makes, sees uid 1000 as the overflow uid.
    with tempfile.TemporaryDirectory(prefix="ew-peer-") as folder:
        Path(folder).chmod(0o755)  # pytest's tmp_path is 0700 under root: uid 1000 needs in
        assert _peer_uid_seen_from_a_namespace(Path(folder) / "peer.sock") == "65534"


def _peer_uid_seen_from_a_namespace(sock: Path) -> str:
    server = subprocess.Popen(
        ["unshare", "--user", "--map-root-user", sys.executable, "-c",
         "import os, socket, sys\n"
         "from controller.control.roles import peer_credentials\n"
         "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777)\n"
         "s.listen(1); print('ready', flush=True)\n"
         "c, _ = s.accept(); print(peer_credentials(c).uid, flush=True)\n", str(sock)],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "ready"
    subprocess.run(["setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
                    "/usr/bin/python3", "-c",
                    f"import socket; socket.socket(socket.AF_UNIX).connect({str(sock)!r})"],
                   check=True, timeout=30)
    seen = server.stdout.readline().strip()
    server.wait(timeout=30)
    return seen


# ------------------------------------------------------------------ udev
RULE_ITEM = re.compile(
    r'^(?:[A-Z_]+(?:\{[A-Za-z0-9_]+\})?\s*(?:==|!=|\+=|-=|:=|=)\s*"[^"]*")$')


@pytest.mark.parametrize("name", ["90-edgewarden-nodes.rules", "91-edgewarden-export.rules"])
def test_udev_rules_syntax(name: str, tmp_path: Path) -> None:
    install(tmp_path, None, EXEC)
    path = tmp_path / "etc/udev/rules.d" / name
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for item in re.split(r',\s*(?=[A-Z])', line.strip()):
            assert RULE_ITEM.match(item), f"{name}:{number}: {item}"
    if shutil.which("udevadm"):
        r = subprocess.run(["udevadm", "verify", str(path)], capture_output=True, text=True)
        if "Unknown command" not in r.stderr:
            assert r.returncode == 0, r.stderr


def test_udev_rules_content() -> None:
    nodes = (REPO / "udev/90-edgewarden-nodes.rules").read_text()
    assert 'ATTRS{idVendor}=="2e8a", ATTRS{idProduct}=="000a"' in nodes
    assert 'SYMLINK+="edgewarden/node-$env{ID_SERIAL_SHORT}"' in nodes
    assert 'GROUP="edgewarden", MODE="0660"' in nodes
    assert "# ACTION" in nodes and "ttyAMA0" in nodes  # documented GPIO UART pattern
    export = (REPO / "udev/91-edgewarden-export.rules").read_text()
    assert 'TAG+="systemd"' in export
    assert 'ENV{SYSTEMD_WANTS}+="edgewarden-export@%k.service"' in export
