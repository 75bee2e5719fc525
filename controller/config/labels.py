"""Label maps: a .txt list or a TF Object Detection API .pbtxt, resolved to model class ids.

The model's class output is an index. How that index maps to a label depends on the
family of the model and on the label file:

* TFLite_Detection_PostProcess drops the background class, so its output 0 is the first
  real class. TF Object Detection API label maps reserve id 0 for background and number
  real classes from 1. So when a label map has no id 0 (or its id 0 is a background
  placeholder), the output index ``c`` is the label with id ``c + 1``: ``offset = 1``.
  The traffic model's map (ids 1..3, output 0 = sedan) is exactly this case.
* A map that numbers its real classes from 0 (YOLO-style, or a .txt without a
  placeholder line) has ``offset = 0``.
* A .txt file has one label per line, line 0 = class 0. A first line of ``???``,
  ``background`` or ``__background__`` is the TFLite-examples placeholder for the
  background class: it is dropped and the offset is 1 in the same sense.

The offset is therefore detected from the file itself (is there a real id 0?), never
guessed from the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from controller.errors import UsageError

_BACKGROUND_NAMES = frozenset({"???", "background", "__background__", "bg"})


@dataclass(frozen=True)
class LabelMap:
    """Label names by label id, and the offset from model class index to label id."""

    names: dict[int, str]
    offset: int

    def name(self, class_index: int) -> str:
        """The label of a model class index; unknown indices become ``class N``."""
        return self.names.get(class_index + self.offset, f"class {class_index}")

    def __len__(self) -> int:
        return len(self.names)


def numbered_labels() -> LabelMap:
    """No label file: classes are named by their index."""
    return LabelMap(names={}, offset=0)


def load_labels(path: Path) -> LabelMap:
    """Read a .txt or .pbtxt label file; errors name the file (and line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such label file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read label file: {exc}") from None
    if path.suffix.lower() == ".pbtxt" or re.search(r"^\s*item\s*\{", text, re.MULTILINE):
        return parse_pbtxt(text, str(path))
    return parse_txt(text, str(path))


def parse_txt(text: str, source: str = "<labels>") -> LabelMap:
    """One label per line (``name``, ``id name`` or ``id: name``)."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise UsageError(f"{source}: label file is empty")
    numbered = [re.match(r"^(\d+)\s*[:\s]\s*(.+)$", line) for line in lines]
    if all(numbered):
        names = {int(m.group(1)): m.group(2).strip() for m in numbered if m}
        return _with_offset(names)
    names = dict(enumerate(lines))
    if names[0].lower() in _BACKGROUND_NAMES:
        del names[0]
        return LabelMap(names=names, offset=1)
    return LabelMap(names=names, offset=0)


def parse_pbtxt(text: str, source: str = "<labels>") -> LabelMap:
    """A TF Object Detection API ``item { id: N name: "..." }`` label map."""
    names: dict[int, str] = {}
    for number, block in _items(text, source):
        id_match = re.search(r"\bid\s*:\s*(-?\d+)", block)
        name_match = re.search(r"\bdisplay_name\s*:\s*[\"']([^\"']*)[\"']", block) or re.search(
            r"\bname\s*:\s*[\"']([^\"']*)[\"']", block
        )
        if not id_match or not name_match:
            raise UsageError(f"{source}:{number}: label map item needs an id and a name")
        names[int(id_match.group(1))] = name_match.group(1)
    if not names:
        raise UsageError(f"{source}: label map has no items")
    return _with_offset(names)


def _items(text: str, source: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for match in re.finditer(r"item\s*\{", text):
        end = text.find("}", match.end())
        if end < 0:
            line = text.count("\n", 0, match.start()) + 1
            raise UsageError(f"{source}:{line}: unclosed item block")
        out.append((text.count("\n", 0, match.start()) + 1, text[match.end() : end]))
    return out


def _with_offset(names: dict[int, str]) -> LabelMap:
    zero = names.get(0)
    if zero is None:
        return LabelMap(names=names, offset=1 if min(names) >= 1 else 0)
    if zero.lower() in _BACKGROUND_NAMES:
        return LabelMap(names={k: v for k, v in names.items() if k != 0}, offset=1)
    return LabelMap(names=names, offset=0)
