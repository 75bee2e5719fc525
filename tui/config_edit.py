"""Pure helpers of the Config screen: validate TOML against the schema, diff before apply."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from controller.config import ConfigError, parse_config


@dataclass(frozen=True)
class ConfigProblem:
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        key = f"{self.key}: " if self.key and self.key != "(top)" else ""
        return f"{where}{key}{self.message}"


def validate(text: str, source: str = "config") -> ConfigProblem | None:
    """The first schema problem of `text`, or None when it loads."""
    try:
        parse_config(text, source)
    except ConfigError as exc:
        return ConfigProblem(exc.line, exc.key, exc.problem)
    return None


def unified_diff(old: str, new: str, path: str) -> str:
    """The change as a unified diff ('' when nothing changed)."""
    return "".join(difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"{path} (running)", tofile=f"{path} (edited)",
    ))
