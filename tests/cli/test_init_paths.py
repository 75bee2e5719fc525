"""`edgewarden init` as a user meets it: a read-only parent, Ctrl-C or Ctrl-D at the
prompts, no terminal at all (a script, `ssh host edgewarden init` without -t)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.terminal import CLI, Terminal

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


@pytest.fixture
def read_only_parent(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody may write into (r-x for all)."""
    parent = tmp_path / "locked"
    parent.mkdir()
    os.chmod(parent, 0o555)
    try:
        yield parent
    finally:
        os.chmod(parent, 0o700)


def _without_root_overrides() -> None:
    """root ignores directory permissions: drop that power (as a normal user lacks it)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # gone from the exec'd command


def _require_read_only(parent: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", f"open({str(parent / 'x')!r}, 'w')"],
                           preexec_fn=_without_root_overrides, capture_output=True)
    if probe.returncode == 0:
        (parent / "x").unlink()
        pytest.skip("cannot make a directory read-only for this user here")


def test_init_under_a_read_only_parent_is_one_line(read_only_parent: Path) -> None:
    _require_read_only(read_only_parent)
    data = read_only_parent / "site" / "data"
    r, w = os.pipe()
    os.write(w, b"a long passphrase 12345\n")
    os.close(w)
    out = subprocess.run([*CLI, "init", "--data-dir", str(data), "--passphrase-fd", str(r)],
                         pass_fds=(r,), capture_output=True, text=True, timeout=120,
                         preexec_fn=_without_root_overrides)
    os.close(r)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("edgewarden init: ") and "cannot" in lines[0]
    assert str(read_only_parent / "site") in lines[0] and "Permission denied" in lines[0]
    assert not (read_only_parent / "site").exists()


@pytest.mark.parametrize("answers", [b"", b"a long passphrase 12345\r"],
                         ids=["first-prompt", "second-prompt"])
def test_ctrl_c_at_a_passphrase_prompt_exits_130_quietly(tmp_path: Path, answers: bytes
                                                         ) -> None:
    term = Terminal("init", "--data-dir", str(tmp_path / "data"))
    term.read_until("New admin passphrase:")
    if answers:
        term.type(answers)
        term.read_until("Repeat the passphrase:")
    term.type(b"\x03")  # Ctrl-C: the terminal sends SIGINT to the foreground group
    rc = term.finish()
    assert rc == 130, term.text
    assert "Traceback" not in term.text and "KeyboardInterrupt" not in term.text
    assert not (tmp_path / "data").exists()  # nothing half-made


@pytest.mark.parametrize("command", [
    ("init",),
    ("verify", "--verification-key", "KEY", "--identity", "ID"),
])
def test_a_passphrase_asked_for_without_a_terminal_is_one_line_naming_the_option(
        tmp_path: Path, command: tuple[str, ...]) -> None:
    """A new session has no controlling terminal: getpass would read stdin (echoing it)
    and end in a traceback at its end; the command says how to give it instead."""
    data = tmp_path / "data"
    if command[0] == "verify":  # an identity that asks for its passphrase
        made = subprocess.run([*CLI, "init", "--data-dir", str(data), "--passphrase-fd", "0"],
                              input="a long passphrase 12345\n", capture_output=True,
                              text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        key = next(w for w in made.stdout.split() if w.startswith("ewvk1-"))
        given = {"ID": str(data / "keys" / "identity.age"), "KEY": key}
        command = tuple(given.get(a, a) for a in command)
    out = subprocess.run([*CLI, *command, "--data-dir", str(data)],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         start_new_session=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "EOFError" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no terminal" in lines[0] and "--passphrase-fd N" in lines[0]
    if command[0] == "init":
        assert not data.exists()  # nothing made


def test_ctrl_d_at_a_passphrase_prompt_is_one_line(tmp_path: Path) -> None:
    term = Terminal("init", "--data-dir", str(tmp_path / "data"))
    term.read_until("New admin passphrase:")
    term.type(b"\x04")  # Ctrl-D: end of input on an empty line
    rc = term.finish()
    assert rc == 2, term.text
    assert "Traceback" not in term.text and "no new admin passphrase given" in term.text
    assert not (tmp_path / "data").exists()


def test_ctrl_c_while_the_command_is_still_loading_shows_no_traceback(tmp_path: Path
                                                                      ) -> None:
    """The once-in-seven case: Ctrl-C pressed while the modules behind the prompt load.

    `-X importtime` reports each finished import on the terminal; Ctrl-C goes as soon as
    rich is loaded, while the crypto stack behind the prompt is still being imported.
    """
    term = Terminal("init", "--data-dir", str(tmp_path / "data"), python=("-X", "importtime"))
    term.read_until("rich.console")
    term.type(b"\x03")
    rc = term.finish()
    assert "Traceback" not in term.text and "KeyboardInterrupt" not in term.text, term.text
    assert rc == 130, term.text
    assert not (tmp_path / "data").exists()


def test_ctrl_c_while_the_keys_are_made_leaves_nothing_half_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for attempt in ("interrupted", "again"):
        term = Terminal("init", "--data-dir", str(data))
        term.read_until("New admin passphrase:")
        term.type(b"a long passphrase 12345\r")
        term.read_until("Repeat the passphrase:")
        term.type(b"a long passphrase 12345\r")
        term.read_until("creating keys")
        if attempt == "interrupted":
            term.type(b"\x03")
            assert term.finish() == 130, term.text
            assert "Traceback" not in term.text
            assert not data.exists()  # so that the next init is not refused
        else:
            assert term.finish() == 0, term.text  # init works again at once
            assert "ewvk1-" in term.text
