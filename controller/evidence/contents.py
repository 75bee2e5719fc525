"""The contents statement: what was asked for and what is inside, signed on its own (pure).

`data/contents.json` states the selection (time range, sources, kinds, redaction), the
seqs of the selected records present, the seqs of the tombstones carried, the media the
device marks stored but whose files were missing at export (`missing_media`: disclosed,
unexplained, and reported as a failure by verify-bundle), and every other payload file
with its SHA-256; `data/contents.json.sig` is its Ed25519 signature
by the device key. It is separate from bundle.json's signature, so re-signing the
manifest after dropping a record, unselecting a kind or withholding a file does not
make the bundle agree with itself: verify-bundle checks the files present against this
list exactly, and the list against the selection (every record of the segment whose
clear, chained header matches the selection must be present).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from controller.evidence.selection import Selection
from controller.store.tombstone import ranges

CONTENTS_FORMAT = "edgewarden-contents/1"
CONTENTS_NAME = "contents.json"
CONTENTS_SIGNATURE_NAME = "contents.json.sig"


def selection_doc(selection: Selection, redact: bool) -> dict[str, Any]:
    return {**selection.to_json(), "redact": redact}


def selection_from(doc: dict[str, Any]) -> tuple[Selection, bool]:
    """The selection a statement names; ValueError/TypeError/KeyError when malformed."""
    since, until = doc["from"], doc["to"]
    return (Selection(None if since is None else float(since),
                      None if until is None else float(until),
                      tuple(str(s) for s in doc["sources"]),
                      tuple(str(k) for k in doc["kinds"])), bool(doc["redact"]))


def encode(store_id: str, selection: dict[str, Any], records: Iterable[int],
           tombstones: Iterable[int], files: dict[str, str],
           missing_media: Iterable[tuple[int, str]] = ()) -> bytes:
    doc = {"format": CONTENTS_FORMAT, "store_id": store_id, "selection": selection,
           "records": ranges(sorted(records)), "tombstones": sorted(tombstones),
           "missing_media": [{"seq": seq, "sha256": sha} for seq, sha in sorted(missing_media)],
           "files": dict(sorted(files.items()))}
    return json.dumps(doc, indent=1, sort_keys=True, allow_nan=False).encode("utf-8") + b"\n"


def seqs_of(doc_ranges: Any) -> set[int]:
    """The seqs of a [[first, last], ...] list; ValueError when malformed."""
    out: set[int] = set()
    for pair in doc_ranges:
        first, last = int(pair[0]), int(pair[1])
        if last < first or last - first > 10_000_000:
            raise ValueError("bad range")
        out.update(range(first, last + 1))
    return out


def missing_of(doc: dict[str, Any]) -> set[tuple[int, str]]:
    """The (seq, sha256) a statement declares missing at export (none in older bundles);
    ValueError/TypeError/KeyError when malformed."""
    return {(int(m["seq"]), str(m["sha256"])) for m in doc.get("missing_media", [])}
