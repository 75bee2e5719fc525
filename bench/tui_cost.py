"""What the TUI costs: time to first paint, and its CPU share with 8 nodes updating at 4 Hz.

Runs `edgewarden tui` in a real pseudo-terminal (80x24) against the scripted control-socket
service (tests/tui/scripted_service.py) sending 8 nodes x 2 channels at 4 Hz. "First paint"
is the moment the pty has shown the dashboard connected and with a node's row in it.

Python start-up depends on bytecode, so first paints are measured both ways:
- "bytecode cached": what a device installed as the README says has (pip compiles .pyc at
  install); the cache lives in a private PYTHONPYCACHEPREFIX, filled by a warm-up run;
- "no bytecode": every module compiled from source at each start, as in a `uv sync` dev
  venv with PYTHONDONTWRITEBYTECODE=1 (an empty PYTHONPYCACHEPREFIX, nothing written).

Baselines, measured in the same run (the machine is shared: compare ratios, not seconds):
- first paint against a bare Textual app (one Static and a Footer) painting in the same pty
  harness and bytecode mode: the floor any Textual UI pays here;
- the bare `import tui.app` time of a fresh interpreter (not on a tty, so nothing is asked);
- CPU against the same TUI connected to an idle service (no readings).
First paints are repeated (`--repeats`, interleaved so load drifts hit every case alike);
best and median are printed, the verdict is on the median. Targets: first paint within
1 s, CPU under 10% of one core.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EDGEWARDEN = Path(sys.executable).parent / "edgewarden"
MEASURE_S = 12.0
TARGET_PAINT_S = 1.0
TARGET_CPU_PCT = 10.0
FLOOR_APP = """\
from textual.app import App
from textual.widgets import Footer, Static

class Floor(App[None]):
    def compose(self):
        yield Static("bare Textual app")
        yield Footer()

Floor().run()
"""
Env = Mapping[str, str]


def bytecode_env(prefix: Path, cached: bool) -> dict[str, str]:
    """os.environ with bytecode read from (and, when `cached`, written to) `prefix` only."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@contextmanager
def service(nodes: int) -> Iterator[Path]:
    """The scripted service on a fresh socket; `nodes` simulated nodes send readings."""
    with tempfile.TemporaryDirectory(prefix="ewbench-", dir="/tmp") as tmp:
        sock = Path(tmp) / "control.sock"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.tui.scripted_service", "--socket", str(sock),
             "--role", "ops", "--nodes", str(nodes), "--hz", "4"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            yield sock
        finally:
            proc.terminate()
            proc.wait(10)


class TuiInPty:
    """A program on a pty; a thread drains its output and notes when all `needles` showed."""

    def __init__(self, argv: list[str], needles: tuple[bytes, ...], env: Env) -> None:
        master, slave = os.openpty()
        # 80x24 cells of 10x20 pixels, so nothing has to ask the terminal for its cell size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 800, 480))
        self.needles = needles
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
                                     env={**env, "TERM": "xterm-256color"},
                                     close_fds=True, start_new_session=True)
        os.close(slave)
        self.master = master
        self.first_paint: float | None = None
        self._seen = b""
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            now = time.monotonic()
            if b"\x1b[c" in chunk:  # answer Device Attributes like a VT220 (no sixel)
                os.write(self.master, b"\x1b[?62;22c")
            if self.first_paint is None:
                self._seen = (self._seen + chunk)[-200_000:]
                if all(n in self._seen for n in self.needles):
                    self.first_paint = now - self.started

    def wait_paint(self, timeout: float = 10.0) -> float | None:
        """Seconds to the first paint, or None when it never came (counted, not fatal)."""
        deadline = time.monotonic() + timeout
        while self.first_paint is None and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.first_paint

    def cpu_share(self, seconds: float) -> float:
        process = psutil.Process(self.proc.pid)
        process.cpu_percent(None)
        time.sleep(seconds)
        return process.cpu_percent(None)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        os.close(self.master)


def tui_argv(sock: Path, direct: bool) -> list[str]:
    if direct:
        return [sys.executable, "-c",
                f"from tui.app import EdgewardenApp; EdgewardenApp({str(sock)!r}).run()"]
    return [str(EDGEWARDEN), "tui", "--socket", str(sock)]


def dashboard_needles(nodes: int) -> tuple[bytes, ...]:
    """Connected, the sensor panel, and a row of data in it (sim-0 or the scripted boiler)."""
    return (b"connected", b"Sensor nodes", b"sim-0" if nodes else b"boiler")


def paint(argv: list[str], needles: tuple[bytes, ...], env: Env) -> float | None:
    tui = TuiInPty(argv, needles, env)
    try:
        return tui.wait_paint()
    finally:
        tui.stop()


def paint_and_cpu(sock: Path, nodes: int, env: Env) -> tuple[float | None, float]:
    tui = TuiInPty(tui_argv(sock, direct=False), dashboard_needles(nodes), env)
    try:
        first = tui.wait_paint()
        time.sleep(1.0)  # let the first screen settle
        return first, tui.cpu_share(MEASURE_S)
    finally:
        tui.stop()


def import_time(env: Env) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import tui.app"], cwd=ROOT, env=env, check=True)
    return time.monotonic() - start


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.3f} s"


def summary(values: list[float | None]) -> tuple[float, float, int]:
    """Best and median of the paints that came (inf if none), and how many never did."""
    came = [v for v in values if v is not None]
    if not came:
        return float("inf"), float("inf"), len(values)
    return min(came), statistics.median(came), len(values) - len(came)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="first paints per case")
    repeats = max(1, parser.parse_args().repeats)

    with tempfile.TemporaryDirectory(prefix="ewbench-pyc-", dir="/tmp") as pyc:
        envs = {"bytecode cached": bytecode_env(Path(pyc) / "cached", cached=True),
                "no bytecode": bytecode_env(Path(pyc) / "none", cached=False)}
        cases = ("import", "floor", "cli", "direct")
        results: dict[tuple[str, str], list[float | None]] = {
            (mode, case): [] for mode in envs for case in cases}
        with service(nodes=8) as sock:
            argv = {"floor": ([sys.executable, "-c", FLOOR_APP], (b"bare Textual app",)),
                    "cli": (tui_argv(sock, direct=False), dashboard_needles(8)),
                    "direct": (tui_argv(sock, direct=True), dashboard_needles(8))}
            for run, needles in argv.values():  # fill the bytecode cache
                paint(run, needles, envs["bytecode cached"])
            for _ in range(repeats):  # interleaved: a burst of load elsewhere hits all alike
                for mode, env in envs.items():
                    results[mode, "import"].append(import_time(env))
                    for case, (run, needles) in argv.items():
                        results[mode, case].append(paint(run, needles, env))
            loaded_paint, cpu = paint_and_cpu(sock, 8, envs["bytecode cached"])
        with service(nodes=0) as sock:
            idle_paint, idle_cpu = paint_and_cpu(sock, 0, envs["bytecode cached"])

    rate = 8 * 2 * 4
    print(f"readings: 8 nodes x 2 channels at 4 Hz = {rate} events/s; {repeats} first paints "
          f"per case (best / median), CPU over {MEASURE_S:g} s")
    labels = {"floor": "baseline: bare Textual app, first paint, same pty",
              "import": "baseline: `import tui.app`, fresh interpreter (no tty)",
              "cli": "first paint, `edgewarden tui` (dashboard with data)",
              "direct": "first paint, app alone (no `edgewarden` CLI)"}
    for mode in envs:
        print(f"{mode}:")
        _, floor_median, _ = summary(results[mode, "floor"])
        _, import_median, _ = summary(results[mode, "import"])
        for case in ("floor", "import", "cli", "direct"):
            best, median, never = summary(results[mode, case])
            line = f"  {labels[case]:<56}{best:6.3f} / {median:6.3f} s"
            if case in ("cli", "direct"):
                ok = median <= TARGET_PAINT_S and not never
                line += (f"  x{median / floor_median:.2f} of bare Textual, "
                         f"x{median / import_median:.2f} of import;  ")
                if mode == "bytecode cached":
                    line += f"target <= {TARGET_PAINT_S:g} s: {'ok' if ok else 'MISSED'}"
                else:  # a diagnostic: nobody installs this way on a device
                    line += "(compiling costs the same to any app: see bare Textual)"
                if never:
                    line += f" ({never}/{repeats} never showed data)"
            print(line)
    print(f"CPU (bytecode cached; first paints of these runs: with readings "
          f"{seconds(loaded_paint)}, idle {seconds(idle_paint)}):")
    print(f"  baseline: TUI CPU, idle service{'':<26}{idle_cpu:6.1f} % of a core")
    ratio = f"x{cpu / idle_cpu:.1f}" if idle_cpu > 0 else "n/a"
    print(f"  TUI CPU with 8 nodes at 4 Hz{'':<29}{cpu:6.1f} % of a core  ({ratio} of idle)  "
          f"target < {TARGET_CPU_PCT:g}%: {'ok' if cpu < TARGET_CPU_PCT else 'MISSED'}")


if __name__ == "__main__":
    main()
