"""How a camera's stored media (snapshots, video segments) are named once the store has
them: the camera and detect stages pass these along without knowing the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaRef:
    """A media file of the store: `sha256` of its age ciphertext names the file."""

    sha256: str
    content_type: str
    size: int
