"""The types of unlocked history, light to import: secrets that hide in reprs, and errors.

Kept apart from tui.history (which pulls in pyrage and the store codec) so the app starts
fast and only loads the crypto when the user unlocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui.model import EventMeta


class Locked(Exception):
    """History is locked: the user must unlock with the passphrase first."""


class HandoutError(Exception):
    """A hand-out that is malformed or fails authentication; names the record, never keys."""


class Passphrase:
    """A typed passphrase that never shows itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Passphrase(<hidden>)"

    __str__ = __repr__


class Identity:
    """The unlocked record identity; its repr hides the key."""

    __slots__ = ("_identity",)

    def __init__(self, identity: Any) -> None:
        self._identity = identity  # a pyrage.x25519.Identity

    @property
    def age_identity(self) -> Any:
        return self._identity

    def __repr__(self) -> str:
        return "Identity(<unlocked>)"

    __str__ = __repr__


@dataclass(frozen=True)
class OpenedRecord:
    """One decrypted record: its plaintext metadata, body, and decrypted media by hash."""

    meta: EventMeta
    body: Mapping[str, Any]
    media: Mapping[str, bytes] = field(default_factory=dict)
    media_types: Mapping[str, str] = field(default_factory=dict)

    def first_image(self) -> bytes | None:
        for digest, kind in self.media_types.items():
            if kind.startswith("image/") and digest in self.media:
                return self.media[digest]
        return None
