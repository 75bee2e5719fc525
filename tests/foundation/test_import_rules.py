"""The import rules of ARCHITECTURE.md, checked on the source: who may import whom.

Every package (and the few top-level modules) sits in one layer of ``LAYERS``; it may
import only what sits in a lower layer. The layers follow the data flow (where data
enters, what it means, the records, the export), so nothing imports a later stage and the
packages cannot form a circle. Every import counts here, lazy and type-only ones too: a
lazy import is still a dependency. Separately, modules must not import each other at
module level in a circle (those break depending on which is imported first).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

ROOTS = ("controller", "firmware_bridge", "tui")

LAYERS: list[set[str]] = [
    # foundation: imported by anyone, import nothing of the project
    {"controller.errors", "controller.atomic_file", "firmware_bridge.node"},
    # the typed config (and the label file it names); the serial link library
    {"controller.config", "firmware_bridge"},
    # stage 1, where data enters: sensor nodes (their keys), cameras
    {"controller.sensors", "controller.camera"},
    # stage 2, what it means: anomaly rules and alarms, the detector and tracker
    {"controller.anomaly", "controller.detect", "controller.plates"},
    # stage 3, the records
    {"controller.store"},
    # stage 4, evidence export
    {"controller.evidence"},
    # the control socket (serves every stage's state as JSON)
    {"controller.control"},
    # OS integration; the simulated site; the MQTT forwarder (a client of the socket)
    {"controller.system", "controller.simulation", "controller.forward"},
    # the running service wires the stages; the TUI is a client of the socket
    {"controller.service", "tui"},
    {"controller.cli"},
    {"controller.__main__"},
]


def unit_of(module: str) -> str:
    """The package (or top-level module) a dotted module name belongs to."""
    parts = module.split(".")
    if parts[0] == "controller":
        return ".".join(parts[:2])
    if parts[0] == "firmware_bridge":
        return "firmware_bridge.node" if parts[1:2] == ["node"] else "firmware_bridge"
    return parts[0]


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for root in ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def imports(module: str, top_level_only: bool,
            source: str | None = None) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for each import in `module` (or in `source`)."""
    path = MODULES[module]
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, *([node.module] if node.module else [])])
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name, node.lineno


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements run at import: not in functions, not under ``if TYPE_CHECKING``."""
    for stmt in body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            yield from _top_level(stmt.orelse)
        elif isinstance(stmt, ast.If | ast.Try | ast.With):
            yield stmt
            for block in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(stmt, block, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _top_level(handler.body)
        elif not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield stmt


def layer_of(unit: str) -> int:
    for number, layer in enumerate(LAYERS):
        if unit in layer:
            return number
    raise AssertionError(f"{unit}: not in any layer of LAYERS (place it, and say where in "
                         "ARCHITECTURE.md)")


def test_every_package_has_a_layer() -> None:
    units = {unit_of(m) for m in MODULES}
    for unit in units - {"controller"}:
        layer_of(unit)
    assert {u for layer in LAYERS for u in layer} <= units  # no stale entries


def layer_violations(module: str, source: str | None = None) -> list[str]:
    unit = unit_of(module)
    if unit == "controller":  # the empty package itself
        return []
    mine = layer_of(unit)
    return [f"{MODULES[module].relative_to(REPO_ROOT)}:{line}: imports {target} "
            f"({unit_of(target)} is not below {unit})"
            for target, line in imports(module, top_level_only=False, source=source)
            if unit_of(target) not in (unit, "controller")
            and layer_of(unit_of(target)) >= mine]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers_only(module: str) -> None:
    wrong = layer_violations(module)
    assert not wrong, "\n".join(wrong)


def test_the_serial_library_and_the_node_firmware_import_nothing_of_controller() -> None:
    for module in MODULES:
        if unit_of(module).startswith("firmware_bridge"):
            bad = [t for t, _ in imports(module, top_level_only=False)
                   if not t.startswith("firmware_bridge")]
            assert not bad, f"{module} imports {bad}"
            if unit_of(module) == "firmware_bridge.node":  # MicroPython: its own code only
                assert all(t.startswith("firmware_bridge.node") for t, _ in
                           imports(module, top_level_only=False)), module


def test_no_circle_of_module_level_imports() -> None:
    graph = {m: {t for t, _ in imports(m, top_level_only=True)} for m in MODULES}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            circle = [*path[path.index(module):], module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_the_rules_see_a_violation() -> None:
    """Not vacuous: a lazy camera -> detect import or a store -> service one is caught."""
    lazy = "def f():\n    from controller.detect.pipeline import DetectionPipeline\n"
    assert layer_violations("controller.camera.source", lazy) == [
        "controller/camera/source.py:2: imports controller.detect.pipeline "
        "(controller.detect is not below controller.camera)"]
    typed = "if TYPE_CHECKING:\n    from controller.service import Service\n"
    assert layer_violations("controller.store.writer", typed)
    assert layer_violations("controller.store.writer", "from controller.store import layout\n") \
        == []
    assert layer_violations("controller.anomaly.engine", "from ..store import writer\n")


def test_architecture_md_shows_the_same_layers() -> None:
    """The table in ARCHITECTURE.md is this file's LAYERS, so the page stays true."""
    text = (REPO_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = text.split("## Import rules", 1)[1]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d", line)]
    documented = []
    for row in rows:
        paths = re.findall(r"`([a-z_/]+(?:\.py)?)/?`", row.split("|")[2])
        documented.append({p.removesuffix(".py").strip("/").replace("/", ".") for p in paths})
    assert documented[-1] == {"controller.cli", "controller.__main__"}
    assert [*documented[:-1], {"controller.cli"}, {"controller.__main__"}] == LAYERS
