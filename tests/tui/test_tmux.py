"""`edgewarden tui` in a real terminal (tmux): keys in, screen text out via capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                          capture_output=True, text=True, check=False).stdout


def wait_for(session: str, *needles: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needles} not on screen:\n{screen}")


@pytest.fixture
def service_process(short_dir: Path) -> Iterator[Path]:
    sock = short_dir / "control.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tui.scripted_service", "--socket", str(sock),
         "--role", "ops"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    yield sock
    proc.terminate()
    proc.wait(10)


def test_tui_in_tmux_acknowledges_an_alarm(service_process: Path) -> None:
    session = f"ewtui-{os.getpid()}"
    edgewarden = Path(sys.executable).parent / "edgewarden"
    command = f"{edgewarden} tui --socket {service_process}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    "-e", "TERM=xterm-256color", command], check=True, cwd=REPO_ROOT)
    try:
        screen = wait_for(session, "connected", "uid 1000 (ops)", "Sensor nodes")
        assert "node-1/temp" in screen  # the active alarm on top of the dashboard
        subprocess.run(["tmux", "send-keys", "-t", session, "2"], check=True)
        wait_for(session, "Alarms", "ACTIVE", "a Ack")
        subprocess.run(["tmux", "send-keys", "-t", session, "a"], check=True)
        screen = wait_for(session, "Acknowledged node-1/temp:limits")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session],
                                   capture_output=True, check=False).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "the app did not quit on q"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True,
                       check=False)


def start_scripted(sock: Path, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tui.scripted_service", "--socket", str(sock),
         "--role", "admin", *extra],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM; on a loaded machine the scripted service may take a while to close."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def test_tui_in_tmux_digits_switch_screens_and_a_stopped_service_looks_stale(
    short_dir: Path,
) -> None:
    sock = short_dir / "control.sock"
    proc = start_scripted(sock)
    session = f"ewtui-stale-{os.getpid()}"
    edgewarden = Path(sys.executable).parent / "edgewarden"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    "-e", "TERM=xterm-256color", f"{edgewarden} tui --socket {sock}"],
                   check=True, cwd=REPO_ROOT)

    def keys(*names: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *names], check=True)

    try:
        wait_for(session, "connected", "Sensor nodes", "running")
        keys("6")
        wait_for(session, "Config", "north-gate")
        keys("7")  # on Config, 7 is the Audit screen, not a 7 in the file
        screen = wait_for(session, "Audit log")
        assert "invalid TOML" not in screen
        keys("6")
        wait_for(session, "Config", "north-gate")
        keys("e")
        wait_for(session, "esc Leave field")
        keys("Escape")
        # tmux holds an Escape for its escape-time to see whether a sequence follows
        time.sleep(1.0)
        screen = wait_for(session, "e Edit")
        assert "Leave field" not in screen
        keys("3")
        wait_for(session, "Events", "camera/node")
        keys("1")
        wait_for(session, "Dashboard", "running")

        stop(proc)
        screen = wait_for(session, "service away", "Service away: all below is as of",
                          "was running", "stale, as of")
        assert "on 2s" not in screen

        proc = start_scripted(sock)
        screen = wait_for(session, "connected", "running")
        deadline = time.monotonic() + 20
        while ("was running" in screen or "Service away" in screen) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = capture(session)
        assert "was running" not in screen and "Service away" not in screen, screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True,
                       check=False)
        stop(proc)


def test_demo_unlock_dialog_says_the_demo_passphrase(tmp_path: Path) -> None:
    from controller.simulation.site import DEMO_PASSPHRASE

    site = tmp_path / "site"
    done = tmp_path / "exit"
    session = f"ewdemo-unlock-{os.getpid()}"
    edgewarden = Path(sys.executable).parent / "edgewarden"
    command = (f"{edgewarden} demo --seconds 120 --no-camera --data-dir {site}; "
               f"echo $? > {done}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                    "-e", "TERM=xterm-256color", command], check=True, cwd=REPO_ROOT)

    def keys(*names: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *names], check=True)

    try:
        wait_for(session, "connected", "Sensor nodes", timeout=60)
        keys("3")
        wait_for(session, "Events", "Press u to unlock")
        keys("u")
        screen = wait_for(session, "Unlock history", "passphrase is")
        assert DEMO_PASSPHRASE in screen.replace("\n", " ")
        keys("-l", DEMO_PASSPHRASE)
        keys("Enter")
        wait_for(session, "unlocked", timeout=30)
        keys("q")
        deadline = time.monotonic() + 90
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True,
                       check=False)


def test_tui_in_tmux_plates_screen_fits_80x24_and_adds_a_vehicle(short_dir: Path) -> None:
    sock = short_dir / "control.sock"
    proc = start_scripted(sock, "--plates-every", "0.5")  # reads made now, heard live
    session = f"ewtui-plates-{os.getpid()}"
    edgewarden = Path(sys.executable).parent / "edgewarden"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                    "-e", "TERM=xterm-256color", f"{edgewarden} tui --socket {sock}"],
                   check=True, cwd=REPO_ROOT)

    def keys(*names: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *names], check=True)

    try:
        wait_for(session, "connected", "Sensor nodes")
        keys("9")
        wait_for(session, "Plates", "Reads", "Register", "/ Search", "v Register",
                 "History is locked")
        # the live reads, newest first: the stolen van's verdict, never its plate
        screen = wait_for(session, "watch", "allow", "unknown", "deny")
        assert "KJA" not in screen
        keys("v")
        screen = wait_for(session, "KJA407XY", "stolen van", "a Add", "d Remove")
        keys("a")
        # the whole dialog, its buttons included, fits the 80x24 terminal
        wait_for(session, "Add a vehicle to the register", "plate", "alarm", "Cancel")
        keys("-l", "lag-512kd")
        keys("Enter")
        screen = wait_for(session, "LAG512KD: on the watch list")
        assert "LAG512KD  watch" in screen
        keys("l")
        wait_for(session, "/ Search")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True,
                       check=False)
        stop(proc)
