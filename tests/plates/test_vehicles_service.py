"""The vehicle register through the real service's socket, by role, audited, and on disk.

A real `edgewarden run` (no nodes, no cameras); clients are forked children with an
unused uid in one role group each (needs root to setuid; skipped otherwise).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.control.client import CommandFailed, ControlClient
from controller.store.handout import HandoutReader, unlock_handed_identity
from tests.prepared_store import initialised_copy
from tests.service.control_harness import free_groups, run_as, unused_uid

PASSPHRASE = "vehicles test passphrase 42"
CLI = [sys.executable, "-m", "controller"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to fork clients with other uids/gids")


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    groups = free_groups(4)
    if len(groups) < 4:
        pytest.skip("needs four member-less groups on this machine")
    access, view, ops, admin = groups
    root = Path(tempfile.mkdtemp(prefix="ewveh-", dir="/tmp"))
    root.chmod(0o755)
    initialised_copy(root / "data", PASSPHRASE)
    cfg = root / "config.toml"
    cfg.write_text(f"""
[device]
name = "gate"
data_dir = "{root / 'data'}"
runtime_dir = "{root / 'run'}"

[serial]
keys_dir = "{root / 'keys'}"

[store]
commit_interval_ms = 50

[control]
socket_group = "{access.gr_name}"
view_group = "{view.gr_name}"
ops_group = "{ops.gr_name}"
admin_group = "{admin.gr_name}"
""")
    log = open(root / "service.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([*CLI, "run", "--config", str(cfg)], stderr=log)
    sock = root / "run" / "control.sock"
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert proc.poll() is None, (root / "service.log").read_text()
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.1)
    try:
        yield {"root": root, "sock": sock, "cfg": cfg, "uid": unused_uid(),
               "access": access.gr_gid, "view": view.gr_gid, "ops": ops.gr_gid,
               "admin": admin.gr_gid}
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def as_role(site: dict[str, Any], role: str, cmd: str, args: dict[str, Any]) -> Any:
    def call() -> Any:
        with ControlClient(site["sock"], timeout=10) as client:
            try:
                return {"ok": client.call(cmd, args)}
            except CommandFailed as exc:
                return {"refused": exc.code, "reason": str(exc)}
    # the role group as the primary gid; the access group lets it reach the socket
    out = run_as(site["uid"], site[role], [site["access"]], call)
    assert "result" in out, out
    return out["result"]


CHANGES = [("vehicles.add", {"plate": "ABC-123DE", "list": "watch", "label": "van"}),
           ("vehicles.remove", {"plate": "KJA407XY"}),
           ("vehicles.import", {"csv": "plate,list\nLND908BG,deny\n"})]


@pytest.mark.parametrize("role", ["view", "ops"])
def test_view_and_ops_cannot_change_the_register(site: dict[str, Any], role: str) -> None:
    for cmd, args in CHANGES:
        answer = as_role(site, role, cmd, args)
        assert answer.get("refused") == "refused", (role, cmd, answer)
        assert f"has role {role}" in answer["reason"]
    listing = as_role(site, role, "vehicles.list", {})
    assert ("ok" in listing) == (role == "ops")


def test_admin_changes_the_register_each_change_saved_and_audited(
        site: dict[str, Any]) -> None:
    added = as_role(site, "admin", "vehicles.add",
                    {"plate": "kja 407-xy", "list": "allow", "label": "director"})
    assert added["ok"]["plate"] == "KJA407XY"
    dup = as_role(site, "admin", "vehicles.add", {"plate": "KJA407XY", "list": "deny"})
    assert "already on the allow list" in dup["reason"]
    imported = as_role(site, "admin", "vehicles.import",
                       {"csv": "plate,list,label\nLND908BG,deny,banned\nSMK651QA,watch,\n",
                        "source": "gate.csv"})
    assert imported["ok"] == {"imported": 2}
    bad = as_role(site, "admin", "vehicles.import",
                  {"csv": "plate,list\nEKY300OL,watch\nBDG512ZS,block\n", "source": "b.csv"})
    assert bad["reason"].endswith("b.csv: row 3: list 'block': must be one of allow, watch, "
                                  "deny")
    removed = as_role(site, "admin", "vehicles.remove", {"plate": "SMK-651QA"})
    assert removed["ok"]["list"] == "watch"
    listing = as_role(site, "ops", "vehicles.list", {})["ok"]["entries"]
    assert [(e["plate"], e["list"]) for e in listing] == [("KJA407XY", "allow"),
                                                         ("LND908BG", "deny")]
    # nothing of the bad import got in; the file holds exactly the register, 0600
    path = site["root"] / "data" / "vehicles.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [e["plate"] for e in json.loads(path.read_text())["entries"]] == \
        ["KJA407XY", "LND908BG"]
    # every change, and every refusal, is an audit record
    with ControlClient(site["sock"]) as client:
        history = client.call("history.fetch", {"kinds": ["audit"]})
    identity = unlock_handed_identity(history, PASSPHRASE)
    bodies = [r.body for r in HandoutReader(history, identity).records()]
    actions = [(b.get("action"), b.get("outcome")) for b in bodies]
    for cmd in ("vehicles.add", "vehicles.import", "vehicles.remove"):
        assert (cmd, "ok") in actions
    assert ("vehicles.add", "refused") in actions  # view's and ops' attempts
    details = [b for b in bodies if b.get("action") == "vehicles.add" and "plate" in b]
    assert [d["plate"] for d in details] == ["KJA407XY"]
    assert details[0]["by"] == site["uid"] and details[0]["list"] == "allow"


def test_the_vehicles_cli_imports_all_or_nothing_and_exports(site: dict[str, Any],
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("plate,list\nGGG111AA,watch\nHHH222BB,purple\n")
    done = subprocess.run([*CLI, "vehicles", "--config", str(site["cfg"]), "import",
                           str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == f"edgewarden vehicles: {bad}: row 3: list 'purple': must " \
        "be one of allow, watch, deny"
    good = tmp_path / "good.csv"
    good.write_text("plate,list,label\nGGG111AA,watch,suspect\n")
    done = subprocess.run([*CLI, "vehicles", "--config", str(site["cfg"]), "import",
                           str(good)], capture_output=True, text=True, timeout=60, check=True)
    assert "1 entries imported" in done.stdout
    out = tmp_path / "out.csv"
    subprocess.run([*CLI, "vehicles", "--config", str(site["cfg"]), "export", str(out)],
                   capture_output=True, text=True, timeout=60, check=True)
    assert "GGG111AA,watch,suspect" in out.read_text()
    listed = subprocess.run([*CLI, "vehicles", "--config", str(site["cfg"]), "list"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert "GGG111AA" in listed.stdout and "high" in listed.stdout
