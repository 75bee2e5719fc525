"""Checking a store: hash chain, seals (each with its own epoch's key), gaps, order,
truncation, media files, and with the identity every AEAD tag.

A fully shredded epoch has no records left; its seals (authenticated with the epoch's
key and chained to each other) carry the chain hash across the gap.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyrage
from cryptography.exceptions import InvalidTag

from controller.errors import EdgewardenError
from controller.store import database, sealstate, state_auth
from controller.store.checkpoint_file import check_against, checkpoint_path, device_head
from controller.store.history import EpochKeys
from controller.store.keyschedule import KeySchedule, fingerprint, key_at
from controller.store.layout import StoreLayout, read_manifest
from controller.store.media import file_sha256, orphans
from controller.store.records import Header, chain_hash, genesis_hash, nonce_for
from controller.store.sealing import GENESIS_MAC, Seal, seal_is_valid
from controller.store.tombstone import Explainer, parse_source

_MAX_PROBLEMS = 200


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    tombstones: int = 0
    seals: int = 0
    epochs: int = 0
    shredded_epochs: int = 0
    media_files: int = 0
    orphan_media: int = 0
    aead_checked: int = 0
    head_checkpoint: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == _MAX_PROBLEMS:
            self.problems.append("... more problems not listed")


_Row = tuple[int, float, int, str, str, str, bytes, bytes, bytes | None]


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
    conn = database.connect(layout.database, readonly=True)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            report.problem(f"records.db: integrity_check says {integrity}")
        seals = [
            Seal(n, e, k, ls, bytes(lh), tw, bytes(pm), bytes(m))
            for n, e, k, ls, lh, tw, pm, m in conn.execute(
                "SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac, mac "
                "FROM seals ORDER BY seal_no"
            )
        ]
        epochs = {
            e: (wk is not None, sh is not None)
            for e, wk, sh in conn.execute("SELECT epoch, wrapped_key, shredded_at FROM epochs")
        }
        report.seals, report.epochs = len(seals), len(epochs)
        report.shredded_epochs = sum(1 for _, shredded in epochs.values() if shredded)
        _check_seals(report, seals, epochs, store_id, seed)
        _check_key_state(report, layout, seals, epochs, seed)
        _check_checkpoints(report, layout, manifest, seals, checkpoints)
        total = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        keys = EpochKeys(conn, identity) if identity is not None else None
        gone = _tombstones(conn, retention_days)
        _check_records(report, conn, seals, epochs, store_id, keys, total, progress, gone)
        _check_media(report, conn, layout, gone)
        for text in gone.problems:
            report.problem(text)
        _check_saved_state(report, layout, conn)
    finally:
        conn.close()
    if seed is None:
        report.notes.append("seals not authenticated: no verification key given")
    if identity is None:
        report.notes.append("AEAD tags not checked: no identity given")
    return report


def _check_seals(
    report: VerifyReport, seals: list[Seal], epochs: dict[int, tuple[bool, bool]],
    store_id: bytes, seed: bytes | None,
) -> None:
    schedule = KeySchedule(seed) if seed is not None else None
    prev_mac, prev_epoch, prev_ended, prev_last = GENESIS_MAC, 0, False, 0
    for i, s in enumerate(seals):
        where = f"seal {s.seal_no} (epoch {s.epoch})"
        if s.seal_no != i + 1:
            report.problem(f"{where}: seal numbers jump from {i} (seals deleted or reordered)")
        if not hmac.compare_digest(s.prev_mac, prev_mac):
            report.problem(f"{where}: does not chain to the seal before it")
        expected_epochs = {prev_epoch + 1} if prev_ended else {prev_epoch}
        if i == 0:
            expected_epochs = {0}
        if s.epoch not in expected_epochs:
            report.problem(f"{where}: epoch out of order after epoch {prev_epoch}")
        if s.last_seq < prev_last:
            report.problem(f"{where}: covers records before the previous seal (reordered)")
        if s.epoch not in epochs:
            report.problem(f"{where}: its epoch has no entry in the epochs table")
        if schedule is not None and not seal_is_valid(
            schedule.seal_key_for(s.epoch), store_id, s
        ):
            report.problem(f"{where}: MAC was not made with the key of epoch {s.epoch} "
                           "(forged, altered, or sealed with a later key)")
        prev_mac, prev_epoch, prev_ended, prev_last = s.mac, s.epoch, s.kind == "end", s.last_seq
    ended = {s.epoch for s in seals if s.kind == "end"}
    if epochs:
        last = max(epochs)
        missing = sorted(set(range(last + 1)) - set(epochs))
        if missing:
            report.problem(f"epochs table: epochs {_ranges(missing)} missing")
        unclosed = [e for e in sorted(epochs) if e < last and e not in ended]
        if unclosed:
            report.problem(f"epochs {_ranges(unclosed)} have no end seal (truncated?)")
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


def _tombstones(conn: sqlite3.Connection,
                retention_days: Mapping[str, float] | None) -> Explainer:
    """Hook: every tombstone (its header is checked by the chain pass like any other)."""
    gone = Explainer(retention_days)
    for seq, t_wall, source in conn.execute(
            "SELECT seq, t_wall, source FROM records WHERE source LIKE 'tombstone/%'"):
        detail = parse_source(source)
        if detail is not None:
            gone.add(seq, t_wall, detail)
    return gone


def _check_saved_state(report: VerifyReport, layout: StoreLayout,
                       conn: sqlite3.Connection) -> None:
    """Hook (state_auth): anomaly-state.json must be the state the chain last recorded."""
    path = layout.data_dir / "anomaly-state.json"
    try:
        data: bytes | None = path.read_bytes()
    except FileNotFoundError:
        data = None
    verdict = state_auth.judge(path, data, state_auth.last_recorded(conn))
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


def _stream(conn: sqlite3.Connection) -> Iterator[_Row]:
    yield from conn.execute(
        "SELECT r.seq, r.t_wall, r.epoch, r.kind, r.source, r.severity, r.prev_hash, "
        "r.body_hash, b.ct FROM records r LEFT JOIN bodies b ON b.seq = r.seq ORDER BY r.seq"
    )


def _check_records(
    report: VerifyReport, conn: sqlite3.Connection, seals: list[Seal],
    epochs: dict[int, tuple[bool, bool]], store_id: bytes, keys: EpochKeys | None,
    total: int, progress: Callable[[int, int], None] | None, gone: Explainer,
) -> None:
    ended_at = {s.epoch: s.t_wall for s in seals if s.kind == "end"}
    explained: set[int] = set()
    media: dict[int, list[str]] = {}
    for seq, sha in conn.execute("SELECT seq, sha256 FROM media"):
        media.setdefault(seq, []).append(sha)
    rows = _stream(conn)
    pending: _Row | None = next(rows, None)
    head = genesis_hash(store_id)
    expected = 1
    done = 0
    bad_epochs: set[int] = set()
    for s in seals:
        in_range: list[_Row] = []
        while pending is not None and pending[0] <= s.last_seq:
            in_range.append(pending)
            pending = next(rows, None)
        count = s.last_seq - expected + 1
        shredded = epochs.get(s.epoch, (False, False))[1]
        if not in_range and count > 0 and shredded:
            head, expected = s.last_hash, s.last_seq + 1  # authenticated by the seal
            if s.epoch not in explained:
                explained.add(s.epoch)
                if why := gone.epoch_gone(s.epoch, ended_at.get(s.epoch)):
                    report.problem(why)
            continue
        for row in in_range:
            seq, t_wall, epoch, kind, source, severity, prev, body_hash, ct = row
            prev, body_hash = bytes(prev), bytes(body_hash)
            if seq != expected:
                report.problem(f"records {_gap(expected, seq)} missing (deleted rows)")
            if epoch != s.epoch:
                report.problem(f"record {seq}: epoch {epoch} but sealed in epoch {s.epoch}")
            if not hmac.compare_digest(prev, head):
                report.problem(f"record {seq}: chain link broken (a record before it was "
                               "deleted, reordered or altered)")
            header = Header(seq, t_wall, epoch, kind, source, severity, prev)
            hb = header.encode()
            if ct is None:
                report.tombstones += 1
                if why := gone.body_gone(seq, kind, t_wall):
                    report.problem(why)
            else:
                ct = bytes(ct)
                if not hmac.compare_digest(hashlib.sha256(ct).digest(), body_hash):
                    report.problem(f"record {seq}: ciphertext altered (body hash mismatch)")
                if keys is not None:
                    _check_tag(report, keys, header, hb, ct, bad_epochs)
            head = chain_hash(hb, body_hash, media.get(seq, ()))
            expected = seq + 1
            report.records += 1
            done += 1
            if progress is not None and done % 5000 == 0:
                progress(done, total)
        if expected <= s.last_seq:
            report.problem(f"records {_gap(expected, s.last_seq + 1)} missing before seal "
                           f"{s.seal_no} (deleted or truncated)")
        if not hmac.compare_digest(head, s.last_hash):
            report.problem(f"seal {s.seal_no}: chain hash does not match the records it "
                           f"covers (up to record {s.last_seq})")
        head, expected = s.last_hash, s.last_seq + 1
    extra = []
    while pending is not None:
        extra.append(pending[0])
        pending = next(rows, None)
    if extra:
        report.problem(f"records {_ranges(extra)} are not covered by any seal")
    if progress is not None:
        progress(total, total)


def _check_tag(
    report: VerifyReport, keys: EpochKeys, header: Header, hb: bytes, ct: bytes,
    bad_epochs: set[int],
) -> None:
    try:
        aead = keys.get(header.epoch)
    except EdgewardenError as exc:
        if header.epoch not in bad_epochs:
            bad_epochs.add(header.epoch)
            report.problem(str(exc))
        return
    if aead is None:
        return
    try:
        aead.decrypt(nonce_for(header.seq), ct, hb)
        report.aead_checked += 1
    except InvalidTag:
        report.problem(f"record {header.seq}: AEAD tag does not verify")


def _check_media(report: VerifyReport, conn: sqlite3.Connection, layout: StoreLayout,
                 gone: Explainer) -> None:
    for seq, sha, state, kind, t_wall in conn.execute(
            "SELECT m.seq, m.sha256, m.state, r.kind, r.t_wall FROM media m "
            "JOIN records r ON r.seq = m.seq WHERE m.state != 'stored'"):
        if why := gone.media_gone(seq, sha, state, kind, t_wall):
            report.problem(why)
    referenced: set[str] = set()
    for seq, sha in conn.execute("SELECT seq, sha256 FROM media WHERE state = 'stored'"):
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


def _gap(first: int, end: int) -> str:
    return f"{first}" if end - first <= 1 else f"{first}..{end - 1}"


def _ranges(values: list[int]) -> str:
    if not values:
        return ""
    out: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v != prev + 1:
            out.append(str(start) if start == prev else f"{start}..{prev}")
            start = v
        prev = v
    out.append(str(start) if start == prev else f"{start}..{prev}")
    text = ", ".join(out[:10])
    return text + (", ..." if len(out) > 10 else "")
