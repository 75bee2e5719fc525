"""bench/plates.py runs as documented: its table and the ratio on the same photos, and a
photo that cannot be decoded ends the run with a line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "plates.py"


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True,
                          text=True, timeout=600, check=False)


def test_bench_prints_both_readers_and_the_ratio(shared_data: Path) -> None:
    run = bench("--data", str(shared_data / "plates"), "--folders", "br", "--limit", "2",
                "--sample", "2")
    assert run.returncode == 0, run.stderr[-2000:]
    rows = {line.split()[1] + " " + line.split()[2] for line in run.stdout.splitlines()
            if line.startswith("br ")}
    assert {"edgewarden 2", "edgewarden, same", "baseline: rapidocr"} <= rows, run.stdout
    assert "br: median speed-up vs baseline" in run.stdout
    assert "br: read with formats br" in run.stdout


def test_a_folder_is_read_with_the_format_of_its_name_or_else_generic(tmp_path: Path) -> None:
    """A region kept back for review is read with its own format where one is built in
    (Nigeria's as a Nigerian site is set up), otherwise with the catch-all."""
    import cv2

    from controller.simulation.plates import scene

    for name, plate in (("ng", "KJA-407XY"), ("zz", "KJA-407XY"), ("br", "ABC-1234")):
        folder = tmp_path / name
        folder.mkdir()
        frame, (x0, y0, x1, y1) = scene(plate, seed=1)
        cv2.imwrite(str(folder / "a.jpg"), frame)
        (folder / "a.txt").write_text(
            f"a.jpg\t{x0} {y0} {x1 - x0} {y1 - y0}\t{plate.replace('-', '')}\n")
    run = bench("--data", str(tmp_path), "--folders", "ng", "zz", "br", "--sample", "0")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ng: read with formats ng, generic" in run.stdout
    assert "zz: read with formats generic" in run.stdout
    assert "br: read with formats br" in run.stdout
    exact = {line.split()[0]: line.split()[3] for line in run.stdout.splitlines()
             if line.split()[:2] in (["ng", "edgewarden"], ["zz", "edgewarden"],
                                     ["br", "edgewarden"])}
    assert exact == {"ng": "100.0%", "zz": "100.0%", "br": "100.0%"}, run.stdout


def test_an_undecodable_photo_is_one_line_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "xx"
    folder.mkdir()
    (folder / "bad.jpg").write_bytes(b"not a jpeg")
    (folder / "bad.txt").write_text("bad.jpg\t1 2 3 4\tAB123CD\n")
    run = bench("--data", str(tmp_path), "--folders", "xx", "--sample", "0")
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [f"cannot read image {folder / 'bad.jpg'}"]
