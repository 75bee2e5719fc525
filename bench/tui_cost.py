"""What the TUI costs: time to first paint, and its CPU share with 8 nodes updating at 4 Hz.

Runs `edgewarden tui` in a real pseudo-terminal (80x24) against the scripted control-socket
service (tests/tui/scripted_service.py) sending 8 nodes x 2 channels at 4 Hz. Baselines
measured in the same run: first paint against the bare `import tui.app` time of a fresh
interpreter; CPU against the same TUI connected to an idle service (no readings).
Targets: first paint within 1 s, CPU under 10% of one core.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EDGEWARDEN = Path(sys.executable).parent / "edgewarden"
MEASURE_S = 12.0


def start_service(sock: Path, nodes: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.tui.scripted_service", "--socket", str(sock),
         "--role", "ops", "--nodes", str(nodes), "--hz", "4"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


class TuiInPty:
    """`edgewarden tui` on a pty; a thread drains its output and notes the first paint."""

    def __init__(self, sock: Path, direct: bool = False) -> None:
        master, slave = os.openpty()
        # 80x24 cells of 10x20 pixels, so nothing has to ask the terminal for its cell size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 800, 480))
        env = {**os.environ, "TERM": "xterm-256color"}
        self.started = time.monotonic()
        argv = ([sys.executable, "-c", f"from tui.app import EdgewardenApp; "
                 f"EdgewardenApp({str(sock)!r}).run()"] if direct
                else [str(EDGEWARDEN), "tui", "--socket", str(sock)])
        self.proc = subprocess.Popen(argv, cwd=ROOT,
                                     stdin=slave, stdout=slave, stderr=slave, env=env,
                                     close_fds=True, start_new_session=True)
        os.close(slave)
        self.master = master
        self.first_output: float | None = None
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
            if self.first_output is None:
                self.first_output = now - self.started
            if self.first_paint is None:
                self._seen = (self._seen + chunk)[-200_000:]
                if b"connected" in self._seen and b"Sensor nodes" in self._seen:
                    self.first_paint = now - self.started

    def wait_paint(self, timeout: float = 20.0) -> float:
        deadline = time.monotonic() + timeout
        while self.first_paint is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.first_paint is None:
            raise SystemExit("the TUI never painted the dashboard")
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


def run_case(nodes: int, direct: bool = False) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="ewbench-", dir="/tmp") as tmp:
        sock = Path(tmp) / "control.sock"
        service = start_service(sock, nodes)
        try:
            tui = TuiInPty(sock, direct)
            try:
                paint = tui.wait_paint()
                time.sleep(1.0)  # let the first screen settle
                cpu = tui.cpu_share(MEASURE_S)
            finally:
                tui.stop()
        finally:
            service.terminate()
            service.wait(10)
    return paint, cpu


def import_time() -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import tui.app"], cwd=ROOT, check=True)
    return time.monotonic() - start


def main() -> None:
    baseline_import = import_time()
    idle_paint, idle_cpu = run_case(nodes=0)
    paint, cpu = run_case(nodes=8)
    direct_paint, _ = run_case(nodes=8, direct=True)
    rate = 8 * 2 * 4
    print(f"readings: 8 nodes x 2 channels at 4 Hz = {rate} events/s, {MEASURE_S:g} s window")
    print(f"baseline: `import tui.app` in a fresh interpreter      {baseline_import:6.3f} s")
    print(f"first paint (dashboard with data, 80x24 pty)           {paint:6.3f} s  "
          f"(x{paint / baseline_import:.2f} of import baseline; idle run {idle_paint:.3f} s)"
          f"  target <= 1 s: {'ok' if paint <= 1.0 else 'MISSED'}")
    print(f"first paint, app alone (no `edgewarden` CLI start-up)   {direct_paint:6.3f} s  "
          f"target <= 1 s: {'ok' if direct_paint <= 1.0 else 'MISSED'}")
    print(f"baseline: TUI CPU, idle service                        {idle_cpu:6.1f} % of a core")
    ratio = f"x{cpu / idle_cpu:.1f}" if idle_cpu > 0 else "n/a"
    print(f"TUI CPU with 8 nodes at 4 Hz                           {cpu:6.1f} % of a core  "
          f"({ratio} of idle)  target < 10%: {'ok' if cpu < 10.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
