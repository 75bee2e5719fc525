"""Checking a store: hash chain, seals (each with its own epoch's key), gaps, order,
truncation, media files, and with the identity every AEAD tag.

A fully shredded epoch has no records left; its seals (authenticated with the epoch's
key and chained to each other) carry the chain hash across the gap.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyrage
from cryptography.exceptions import InvalidTag

from controller.errors import EdgewardenError
from controller.store import sealstate, state_auth
from controller.store.chain_check import (
    ChainEntry,
    Check,
    Findings,
    Start,
    check_chain,
    ranges,
    standard_checks,
)
from controller.store.checkpoint_file import check_against, checkpoint_path, device_head
from controller.store.history import EpochKeys
from controller.store.keyschedule import fingerprint, key_at
from controller.store.layout import StoreLayout, read_manifest
from controller.store.media import file_sha256, orphans
from controller.store.reader import StoreReader
from controller.store.records import nonce_for
from controller.store.retention_class import class_of
from controller.store.sealing import Seal
from controller.store.tombstone import PREFIX as TOMBSTONE_PREFIX
from controller.store.tombstone import Explainer, parse_source


@dataclass
class VerifyReport(Findings):
    """What `verify` found: the chain check's findings plus the store's own checks."""

    epochs: int = 0
    shredded_epochs: int = 0
    media_files: int = 0
    orphan_media: int = 0
    aead_checked: int = 0
    head_checkpoint: str | None = None


def verify_store(
    data_dir: Path | str,
    seed: bytes | None,
    identity: pyrage.x25519.Identity | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoints: Sequence[Path] = (),
    retention_days: Mapping[str, float] | None = None,
) -> VerifyReport:
    """Check everything that can be checked with the keys given; never modifies the store."""
    layout = StoreLayout(Path(data_dir))
    manifest = read_manifest(layout)
    store_id = bytes.fromhex(manifest["store_id"])
    report = VerifyReport()
    if seed is not None and not hmac.compare_digest(
        fingerprint(seed), str(manifest.get("verification_key_fingerprint", ""))
    ):
        raise EdgewardenError(
            f"verification key {fingerprint(seed)} is not the key of this store "
            f"({manifest.get('verification_key_fingerprint')})"
        )
    reader = StoreReader(layout.database)
    try:
        integrity = reader.integrity()
        if integrity != "ok":
            report.problem(f"records.db: integrity_check says {integrity}")
        seals = reader.seals()
        epochs = reader.epochs()
        report.epochs = len(epochs)
        report.shredded_epochs = sum(1 for _, shredded in epochs.values() if shredded)
        total = reader.count()
        checks: list[Check] = [*standard_checks(store_id, seed), _EpochsKnown(epochs)]
        if identity is not None:
            checks.append(_AeadTags(reader.epoch_keys(identity), report))
        if progress is not None:
            checks.append(_Progress(progress, total))
        shredded = {e for e, (_, gone) in epochs.items() if gone}
        gone = _tombstones(reader, retention_days)
        checks.append(_Tombstones(gone, seals, shredded))
        check_chain(seals, _entries(reader), Start.genesis(store_id), checks=checks,
                    shredded=shredded, found=report)
        _check_epochs(report, seals, epochs)
        _check_key_state(report, layout, seals, epochs, seed)
        _check_checkpoints(report, layout, manifest, seals, checkpoints)
        _check_media(report, reader, layout, gone)
        for text in gone.problems:
            report.problem(text)
        _check_saved_state(report, layout, reader)
    finally:
        reader.close()
    if seed is None:
        report.notes.append("seals not authenticated: no verification key given")
    if identity is None:
        report.notes.append("AEAD tags not checked: no identity given")
    return report


class _EpochsKnown:
    """Every seal's epoch has its row (and wrapped key) in the epochs table."""

    def __init__(self, epochs: dict[int, tuple[bool, bool]]) -> None:
        self._epochs = epochs

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        self.on_seal(seal, None, found)

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        if seal.epoch not in self._epochs:
            found.problem(f"seal {seal.seal_no} (epoch {seal.epoch}): its epoch has no entry "
                          "in the epochs table")

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        return None

    def on_end(self, found: Findings) -> None:
        return None


def _check_epochs(report: VerifyReport, seals: list[Seal],
                  epochs: dict[int, tuple[bool, bool]]) -> None:
    """Epochs contiguous from 0, every one but the last closed by an end seal."""
    ended = {s.epoch for s in seals if s.kind == "end"}
    if epochs:
        last = max(epochs)
        missing = sorted(set(range(last + 1)) - set(epochs))
        if missing:
            report.problem(f"epochs table: epochs {ranges(missing)} missing")
        unclosed = [e for e in sorted(epochs) if e < last and e not in ended]
        if unclosed:
            report.problem(f"epochs {ranges(unclosed)} have no end seal (truncated?)")
        if last not in ended:
            report.notes.append(f"epoch {last} is open (writer running or stopped abruptly)")


def _check_checkpoints(
    report: VerifyReport, layout: StoreLayout, manifest: dict[str, Any], seals: list[Seal],
    files: Sequence[Path],
) -> None:
    """Hook: the store must contain every checkpoint the user kept (checkpoint_file)."""
    public = str(manifest.get("signing_public_key", ""))
    for text in check_against(list(files), public, manifest["store_id"], seals, "store"):
        report.problem(text)
    report.head_checkpoint = device_head(layout, public, seals)
    if seals and report.head_checkpoint is None:
        report.notes.append(f"{checkpoint_path(layout)} does not state the last seal "
                            f"(missing, stale or not signed by this store's key)")


def _tombstones(reader: StoreReader,
                retention_days: Mapping[str, float] | None) -> Explainer:
    """Hook: every tombstone (its header is checked by the chain walk like any other)."""
    gone = Explainer(retention_days)
    for seq, t_wall, source in reader.sources_starting(TOMBSTONE_PREFIX):
        detail = parse_source(source)
        if detail is not None:
            gone.add(seq, t_wall, detail)
    return gone


class _Tombstones:
    """Every missing body and every shredded epoch is explained by a tombstone
    (tombstone.py) and, with `--config`, by the configured retention."""

    def __init__(self, gone: Explainer, seals: list[Seal], shredded: set[int]) -> None:
        self._gone, self._shredded = gone, shredded
        self._ended_at = {s.epoch: s.t_wall for s in seals if s.kind == "end"}
        self._explained: set[int] = set()

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        self.on_seal(seal, None, found)

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        if seal.epoch in self._shredded and seal.epoch not in self._explained:
            self._explained.add(seal.epoch)
            if why := self._gone.epoch_gone(seal.epoch, self._ended_at.get(seal.epoch)):
                found.problem(why)

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        h = entry.header
        if entry.ct is None and (why := self._gone.body_gone(
                h.seq, class_of(h.kind, h.severity), h.t_wall)):
            found.problem(why)

    def on_end(self, found: Findings) -> None:
        return None


def _check_saved_state(report: VerifyReport, layout: StoreLayout,
                       reader: StoreReader) -> None:
    """Hook (state_auth): anomaly-state.json must be the state the chain last recorded."""
    path = layout.data_dir / "anomaly-state.json"
    try:
        data: bytes | None = path.read_bytes()
    except FileNotFoundError:
        data = None
    verdict = state_auth.judge(path, data, state_auth.last_recorded(reader))
    if verdict.problem is not None:
        report.problem(verdict.problem)


def _check_key_state(
    report: VerifyReport, layout: StoreLayout, seals: list[Seal],
    epochs: dict[int, tuple[bool, bool]], seed: bytes | None,
) -> None:
    """The device's current sealing epoch bounds how far the records must reach."""
    try:
        state = sealstate.load(layout.seal_state)
    except EdgewardenError as exc:
        # the writer always leaves a sealing state (it evolves, never deletes it)
        report.problem(f"sealing key state missing or unreadable ({exc}): the device's "
                       "sealing state is gone, so a cut tail cannot be ruled out")
        return
    last = max(epochs) if epochs else -1
    ended = {s.epoch for s in seals if s.kind == "end"}
    if seed is not None and not hmac.compare_digest(state.key, key_at(seed, state.epoch)):
        report.problem(f"{layout.seal_state}: not the key of epoch {state.epoch}")
    if state.epoch > last + 1 or (state.epoch == last + 1 and last >= 0 and last not in ended):
        report.problem(f"records end at epoch {last} but the device is sealing epoch "
                       f"{state.epoch}: later records were truncated")
    elif state.epoch < last:
        report.problem(f"{layout.seal_state}: at epoch {state.epoch}, behind the records "
                       f"(epoch {last})")


def _entries(reader: StoreReader) -> Iterator[ChainEntry]:
    """The store's records in seq order, as the chain check reads them."""
    media: dict[int, list[str]] = {}
    for m in reader.media():
        media.setdefault(m.seq, []).append(m.sha256)
    for r in reader.records():
        yield ChainEntry(r.header, r.body_hash, tuple(media.get(r.header.seq, ())), r.ct)


class _AeadTags:
    """With the identity: every ciphertext's AEAD tag under its epoch's data key."""

    def __init__(self, keys: EpochKeys, report: VerifyReport) -> None:
        self._keys = keys
        self._report = report
        self._bad_epochs: set[int] = set()

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        return None

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        return None

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        if entry.ct is None:
            return
        header = entry.header
        try:
            aead = self._keys.get(header.epoch)
        except EdgewardenError as exc:
            if header.epoch not in self._bad_epochs:
                self._bad_epochs.add(header.epoch)
                found.problem(str(exc))
            return
        if aead is None:
            return
        try:
            aead.decrypt(nonce_for(header.seq), entry.ct, header.encode())
            self._report.aead_checked += 1
        except InvalidTag:
            found.problem(f"record {header.seq}: AEAD tag does not verify")

    def on_end(self, found: Findings) -> None:
        return None


class _Progress:
    """Calls `progress(done, total)` every 5000 records and once at the end."""

    def __init__(self, progress: Callable[[int, int], None], total: int) -> None:
        self._progress, self._total, self._done = progress, total, 0

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        return None

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        return None

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        self._done += 1
        if self._done % 5000 == 0:
            self._progress(self._done, self._total)

    def on_end(self, found: Findings) -> None:
        self._progress(self._total, self._total)


def _check_media(report: VerifyReport, reader: StoreReader, layout: StoreLayout,
                 gone: Explainer) -> None:
    for m, cls, t_wall in reader.removed_media():
        if why := gone.media_gone(m.seq, m.sha256, m.state, cls, t_wall):
            report.problem(why)
    referenced: set[str] = set()
    for m in reader.media(state="stored"):
        seq, sha = m.seq, m.sha256
        referenced.add(sha)
        path = layout.media_file(sha)
        if not path.exists():
            report.problem(f"media {sha[:16]}.. (record {seq}): file missing")
        elif file_sha256(path) != sha:
            report.problem(f"media {sha[:16]}.. (record {seq}): file replaced or altered")
        else:
            report.media_files += 1
    stray = orphans(layout, referenced)
    report.orphan_media = len(stray)
    if stray:
        size = sum(p.stat().st_size for p in stray if p.exists())
        names = ", ".join(p.name[:20] for p in stray[:5]) + (", ..." if len(stray) > 5 else "")
        # not tampering (a record would then name a missing file): a crash's leftovers
        report.notes.append(
            f"{len(stray)} orphan media file(s) in {layout.media_dir} ({size / 1e6:.1f} MB) "
            f"that no record references ({names}); the writer removes them at its next "
            "start and at retention")
