"""The Device panel's CPU line says what each figure is: load, then temperature."""

from __future__ import annotations

import dataclasses

from rich.console import Console

from tests.tui.scripted_service import base_status
from tui.model import parse_status
from tui.widgets.panels import render_health


def cpu_line(**health: float | None) -> str:
    """The CPU line of the Device panel for a status whose health has these fields."""
    status = parse_status(base_status("admin"))
    status = dataclasses.replace(
        status, health=dataclasses.replace(status.health, **health))  # type: ignore[arg-type]
    console = Console(width=80, record=True)
    console.print(render_health(status))
    return next(line for line in console.export_text().splitlines() if line.startswith("CPU"))


def test_cpu_line_shows_load_and_temperature() -> None:
    assert cpu_line(cpu_pct=23.4, cpu_temp_c=54.25).startswith("CPU 23% busy  54.2 °C")


def test_cpu_line_names_what_is_unknown() -> None:
    # a board without a thermal zone: the temperature is named as unknown, not a bare dash
    assert cpu_line(cpu_pct=5.0, cpu_temp_c=None).startswith("CPU 5% busy  temperature —")
    assert cpu_line(cpu_pct=None, cpu_temp_c=40.0).startswith("CPU busy —  40.0 °C")
