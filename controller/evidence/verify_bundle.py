"""Checking an evidence bundle anywhere, without the device.

Without keys: the bag (checksums of every payload and tag file), the Ed25519 signature of
bundle.json, that the bag holds exactly the files the signed manifest names with the same
hashes, the chain segment (each record's chain hash is the next one's prev_hash, from the
anchor seal or the store's genesis), each ciphertext against its body hash, each seal's
last_hash against the chain, the seal chain (prev_mac) and media files against their names.
With the identity: every epoch key, record (AEAD tag) and media file decrypts, and the
media each record names inside its ciphertext are the ones the chain covers.
With the verification key: every seal's MAC under the key of its own epoch, and every
record it covers belongs to that epoch (CVE-2023-31439).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bagit
import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.evidence import manifest as mf
from controller.evidence.fixity import FileDigests, digest_files
from controller.store.checkpoint_file import CHECKPOINT_NAME, check_bundle
from controller.store.keyschedule import KeySchedule, fingerprint
from controller.store.records import Header, chain_hash, genesis_hash, open_record
from controller.store.sealing import GENESIS_MAC, Seal, seal_is_valid

_MAX_PROBLEMS = 100
ProgressFn = Callable[[str, int, int], None]


@dataclass
class BundleReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    selected: int = 0
    seals: int = 0
    seals_authenticated: int = 0
    head_checkpoint: str | None = None
    signer_pinned: bool = False
    media_files: int = 0
    aead_checked: int = 0
    media_decrypted: int = 0
    signing_key: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == _MAX_PROBLEMS:
            self.problems.append("... more problems not listed")


class _Stop(Exception):
    """Nothing more can be checked (the report already says why)."""


@dataclass(frozen=True)
class _Line:
    seq: int
    header: Header
    body_hash: bytes
    media: tuple[str, ...]
    selected: bool
    ct: bytes | None


def verify_bundle(
    path: Path | str,
    *,
    identity: pyrage.x25519.Identity | None = None,
    seed: bytes | None = None,
    expected_signing_key: str | None = None,
    progress: ProgressFn | None = None,
    allow_partial: bool = False,
    checkpoints: Sequence[Path] = (),
) -> BundleReport:
    """Check everything the keys given allow; never modifies the bundle."""
    root = Path(path)
    report = BundleReport()
    with contextlib.suppress(_Stop):
        _verify(root, report, identity, seed, expected_signing_key,
                progress or (lambda stage, done, total: None), allow_partial, checkpoints)
    if expected_signing_key is None:
        report.notes.append(
            f"signer NOT pinned: the bundle is signed by {report.signing_key or '?'}, the "
            "key it carries itself; anyone can re-sign a bundle with a key of their own. "
            "Pin the device's key with --signing-key HEX (signing_public_key in the "
            "device's store.json, or as init printed it)")
    if seed is None:
        report.notes.append("seal MACs not checked: no verification key given")
    if identity is None:
        report.notes.append("records and media not decrypted: no identity given")
    return report


def _verify(root: Path, report: BundleReport, identity: pyrage.x25519.Identity | None,
            seed: bytes | None, expected_key: str | None, progress: ProgressFn,
            allow_partial: bool, checkpoints: Sequence[Path]) -> None:
    if not root.is_dir():
        report.problem(f"{root}: not a directory")
        raise _Stop
    if root.name.endswith(".partial") and not allow_partial:
        report.problem(f"{root}: an unfinished export (.partial), not a bundle")
        raise _Stop
    entries = _check_bag(root, report, progress)
    data = root / "data"
    manifest_bytes = _read(data / mf.MANIFEST_NAME, report)
    signature = _read(data / mf.SIGNATURE_NAME, report)
    public = _read(data / mf.PUBLIC_KEY_NAME, report).decode("ascii", "replace").strip()
    report.signing_key = public
    if not mf.signature_is_valid(public, manifest_bytes, signature):
        report.problem(f"{mf.MANIFEST_NAME}: Ed25519 signature does not verify "
                       "(manifest altered or signed by another key)")
        raise _Stop
    if expected_key is not None and not hmac.compare_digest(
            expected_key.strip().lower(), public.lower()):
        report.problem(f"{mf.PUBLIC_KEY_NAME}: signed by {public[:16]}.., not by the "
                       f"expected device key {expected_key.strip()[:16]}..")
    try:
        doc = json.loads(manifest_bytes)
        files: dict[str, str] = dict(doc["files"])
        segment = doc["segment"]
        store_id = bytes.fromhex(doc["store_id"])
    except (ValueError, KeyError, TypeError):
        report.problem(f"{mf.MANIFEST_NAME}: not an edgewarden bundle manifest")
        raise _Stop from None
    if doc.get("format") != mf.BUNDLE_FORMAT:
        report.problem(f"{mf.MANIFEST_NAME}: unknown format {doc.get('format')!r}")
        raise _Stop
    if not hmac.compare_digest(str(doc.get("signing_public_key", "")), public):
        report.problem(f"{mf.PUBLIC_KEY_NAME}: differs from the key named in the manifest")
    _check_files(files, entries, report)
    lines = _read_records(data / "records.jsonl", report)
    seals = _read_seals(data / "seals.jsonl", report)
    report.seals = len(seals)
    _check_chain(lines, seals, segment, store_id, report)
    _check_checkpoints(data, files, public, doc["store_id"], seals, checkpoints, report)
    _check_media_entries(doc, lines, files, report)
    if seed is not None:
        _check_seal_macs(seals, store_id, seed, doc, report)
    if identity is not None:
        _decrypt_all(data, lines, files, identity, report, progress)


def _check_checkpoints(data: Path, files: dict[str, str], public: str, store_id: str,
                       seals: list[Seal], kept: Sequence[Path], report: BundleReport) -> None:
    """Hook: the carried head and the user's kept checkpoints (store/checkpoint_file)."""
    carried = (data / CHECKPOINT_NAME).read_bytes() if CHECKPOINT_NAME in files else None
    found = check_bundle(carried, list(kept), public, store_id, seals)
    for text in found.problems:
        report.problem(text)
    report.notes.extend(found.notes)
    report.head_checkpoint = found.head


def _read(path: Path, report: BundleReport) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        report.problem(f"{path.name}: missing or unreadable ({exc.strerror})")
        raise _Stop from None


def _check_bag(root: Path, report: BundleReport, progress: ProgressFn) -> dict[str, str]:
    """The bag's payload hashes (relative to data/), after bagit validated all of them."""
    _check_tagmanifest(root, report)
    try:
        bag = bagit.Bag(str(root))
    except bagit.BagError as exc:
        report.problem(f"bag: {exc}")
        raise _Stop from None
    if "sha256" not in bag.algorithms:
        report.problem("bag: has no sha256 manifest")
        raise _Stop
    try:  # structure, bagit.txt, Payload-Oxum, every file listed and nothing extra
        bag.validate(completeness_only=True)
    except bagit.BagValidationError as exc:
        details = exc.details or [exc.message]
        for d in details:
            report.problem(f"bag: {d}")
        raise _Stop from None
    except (bagit.BagError, OSError, UnicodeError) as exc:
        report.problem(f"bag: {exc}")
        raise _Stop from None
    _check_fixity(root, bag, report, progress)
    out = {}
    for rel, hashes in bag.entries.items():
        if rel.startswith("data/"):
            out[rel[5:]] = hashes.get("sha256", "")
    return out


def _check_fixity(root: Path, bag: bagit.Bag, report: BundleReport,
                  progress: ProgressFn) -> None:
    """Every payload and tag file against every checksum the bag lists (bagit's own
    entry check, done in parallel threads, each file read once)."""
    entries: dict[str, dict[str, str]] = dict(bag.entries)
    jobs = [(root / bag.normalized_filesystem_names.get(rel, rel), list(hashes))
            for rel, hashes in entries.items()]
    total = sum(p.stat().st_size for p, _ in jobs if p.is_file())
    done = 0
    progress("checking bag", 0, total)

    def on_done(result: FileDigests) -> None:
        nonlocal done
        done += result.size
        progress("checking bag", done, total)

    failed = False
    for (rel, hashes), result in zip(entries.items(), digest_files(jobs, on_done),
                                     strict=True):
        if result.error:
            report.problem(f"bag: {rel}: cannot be read ({result.error})")
            failed = True
            continue
        for alg, stored in hashes.items():
            if not hmac.compare_digest(stored.lower(), result.digests[alg]):
                report.problem(f"bag: {rel} {alg} validation failed: expected="
                               f"\"{stored.lower()}\" found=\"{result.digests[alg]}\"")
                failed = True
    if failed:
        raise _Stop


_TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _check_tagmanifest(root: Path, report: BundleReport) -> None:
    """bagit skips malformed tag manifest lines; a whole bundle lists all three tag files."""
    try:
        text = (root / "tagmanifest-sha256.txt").read_text("utf-8")
    except (OSError, UnicodeError):
        report.problem("tagmanifest-sha256.txt: missing or unreadable (bag incomplete)")
        raise _Stop from None
    listed = set()
    for raw in text.splitlines():
        parts = raw.strip().split(None, 1)
        if len(parts) == 2 and _HEX64.match(parts[0]):
            listed.add(parts[1])
    for name in _TAG_FILES:
        if name not in listed:
            report.problem(f"tagmanifest-sha256.txt: does not cover {name} (truncated?)")
    if not all(name in listed for name in _TAG_FILES):
        raise _Stop


def _check_files(files: dict[str, str], entries: dict[str, str],
                 report: BundleReport) -> None:
    signed = {mf.MANIFEST_NAME, mf.SIGNATURE_NAME, mf.PUBLIC_KEY_NAME}
    for rel, sha in sorted(files.items()):
        if rel not in entries:
            report.problem(f"{rel}: named in the signed manifest but not in the bag")
        elif not hmac.compare_digest(entries[rel], sha):
            report.problem(f"{rel}: differs from the signed manifest (replaced)")
    extra = sorted(set(entries) - set(files) - signed)
    for rel in extra[:20]:
        report.problem(f"{rel}: in the bag but not in the signed manifest (added)")
    for rel in ("records.jsonl", "seals.jsonl", "epochs.jsonl"):
        if rel not in files:
            report.problem(f"{rel}: not named in the signed manifest")
            raise _Stop


def _read_records(path: Path, report: BundleReport) -> list[_Line]:
    out = []
    for n, raw in enumerate(_read(path, report).splitlines(), 1):
        try:
            d = json.loads(raw)
            header = Header(int(d["seq"]), float(d["t_wall"]), int(d["epoch"]), str(d["kind"]),
                            str(d["source"]), str(d["severity"]), bytes.fromhex(d["prev_hash"]))
            ct = base64.b64decode(d["ct"], validate=True) if d.get("ct") is not None else None
            out.append(_Line(header.seq, header, bytes.fromhex(d["body_hash"]),
                             tuple(str(m) for m in d.get("media", [])), bool(d["selected"]), ct))
        except (ValueError, KeyError, TypeError, binascii.Error):
            report.problem(f"records.jsonl line {n}: malformed")
            raise _Stop from None
    report.records = len(out)
    report.selected = sum(1 for line in out if line.selected)
    return out


def _read_seals(path: Path, report: BundleReport) -> list[Seal]:
    out = []
    for n, raw in enumerate(_read(path, report).splitlines(), 1):
        try:
            d = json.loads(raw)
            out.append(Seal(int(d["seal_no"]), int(d["epoch"]), str(d["kind"]),
                            int(d["last_seq"]), bytes.fromhex(d["last_hash"]),
                            float(d["t_wall"]), bytes.fromhex(d["prev_mac"]),
                            bytes.fromhex(d["mac"])))
        except (ValueError, KeyError, TypeError):
            report.problem(f"seals.jsonl line {n}: malformed")
            raise _Stop from None
    return out


def _check_chain(lines: list[_Line], seals: list[Seal], segment: dict[str, Any],
                 store_id: bytes, report: BundleReport) -> None:
    if not lines:
        report.problem("records.jsonl: no records")
        return
    first, last = lines[0].seq, lines[-1].seq
    if first != segment.get("first_seq") or last != segment.get("last_seq") or \
            len(lines) != segment.get("records"):
        report.problem(f"records.jsonl: holds records {first}..{last} ({len(lines)}), "
                       f"the manifest says {segment.get('first_seq')}..{segment.get('last_seq')}")
    head = lines[0].header.prev_hash
    if first == 1 and not hmac.compare_digest(head, genesis_hash(store_id)):
        report.problem("record 1: does not start from the store's genesis hash")
    by_last: dict[int, list[Seal]] = {}
    for s in seals:
        by_last.setdefault(s.last_seq, []).append(s)
    hash_at: dict[int, bytes] = {first - 1: head}
    expected = first
    for line in lines:
        if line.seq != expected:
            bridge = by_last.get(line.seq - 1)
            if line.seq > expected and bridge and line.seq - 1 >= expected and \
                    not _whole_epochs_gone(seals, expected, line.seq - 1, report):
                head = bridge[-1].last_hash  # reported: a gap that is not whole epochs
            elif line.seq > expected and bridge and line.seq - 1 >= expected:
                report.notes.append(f"records {expected}..{line.seq - 1} absent (shredded "
                                    f"epoch); bridged by seal {bridge[-1].seal_no}")
                head = bridge[-1].last_hash
            else:
                report.problem(f"record {line.seq}: follows record {expected - 1} "
                               "(records missing or reordered)")
        if not hmac.compare_digest(line.header.prev_hash, head):
            report.problem(f"record {line.seq}: chain link broken (prev_hash does not match "
                           "the record before it)")
        if line.ct is not None and not hmac.compare_digest(
                hashlib.sha256(line.ct).digest(), line.body_hash):
            report.problem(f"record {line.seq}: ciphertext altered (body hash mismatch)")
        if line.selected and line.ct is None:
            report.notes.append(f"record {line.seq}: body expired on the device (header only)")
        head = chain_hash(line.header.encode(), line.body_hash, line.media)
        hash_at[line.seq] = head
        expected = line.seq + 1
    # seals: numbered, chained, each last_hash on the chain, each range of its epoch
    if not seals:
        report.problem("seals.jsonl: no seals cover the segment")
        return
    if first > 1 and seals[0].last_seq != first - 1:
        report.problem(f"seal {seals[0].seal_no}: the first seal does not end right before "
                       f"record {first} (no anchor for the segment)")
    if first == 1 and seals[0].seal_no != 1:
        report.problem(f"seal {seals[0].seal_no}: the segment starts the store but the "
                       "seals do not")
    if seals[0].seal_no == 1 and seals[0].prev_mac != GENESIS_MAC:
        report.problem("seal 1: does not start the seal chain")
    epoch_of = {line.seq: line.header.epoch for line in lines}
    prev: Seal | None = None
    for s in seals:
        if prev is not None:
            if s.seal_no != prev.seal_no + 1:
                report.problem(f"seal {s.seal_no}: follows seal {prev.seal_no} (seals missing)")
            if not hmac.compare_digest(s.prev_mac, prev.mac):
                report.problem(f"seal {s.seal_no}: does not chain to seal {prev.seal_no}")
            if s.last_seq < prev.last_seq:
                report.problem(f"seal {s.seal_no}: goes back in the records (reordered)")
            for seq in range(prev.last_seq + 1, s.last_seq + 1):
                if seq in epoch_of and epoch_of[seq] != s.epoch:
                    report.problem(f"record {seq}: epoch {epoch_of[seq]} but sealed in "
                                   f"epoch {s.epoch}")
                    break
        at = hash_at.get(s.last_seq)
        if at is not None and not hmac.compare_digest(at, s.last_hash):
            report.problem(f"seal {s.seal_no}: chain hash does not match the records up to "
                           f"record {s.last_seq}")
        elif at is None and first <= s.last_seq <= last and s.last_seq not in by_last:
            report.problem(f"seal {s.seal_no}: covers record {s.last_seq}, not in the bundle")
        prev = s
    if seals[-1].last_seq < last:
        report.problem(f"records {seals[-1].last_seq + 1}..{last}: not covered by any seal")


def _whole_epochs_gone(seals: list[Seal], first: int, last: int,
                       report: BundleReport) -> bool:
    """Hook: a gap is a shredded epoch only when it is whole epochs, end seal to end seal.

    Shredding removes every record of a closed epoch and nothing else, so records
    first..last may be absent only when an end seal ends right before them and the end
    seals of the epochs that held them end right at `last`.
    """
    before = [s for s in seals if s.last_seq == first - 1]
    after = [s for s in seals if s.last_seq == last and s.kind == "end"]
    ok = (first == 1 or any(s.kind == "end" for s in before)) and bool(after)
    if not ok:
        report.problem(f"records {first}..{last} absent, but they are not whole epochs "
                       "(shredding removes only whole closed epochs): records were removed")
    return ok


def _check_media_entries(doc: dict[str, Any], lines: list[_Line], files: dict[str, str],
                         report: BundleReport) -> None:
    chained = {(line.seq, m) for line in lines if line.selected for m in line.media}
    listed = set()
    for e in doc.get("media", []):
        try:
            seq, sha, state = int(e["seq"]), str(e["sha256"]), str(e["state"])
        except (KeyError, TypeError, ValueError):
            report.problem(f"{mf.MANIFEST_NAME}: malformed media entry")
            continue
        listed.add((seq, sha))
        if (seq, sha) not in chained:
            report.problem(f"media {sha[:16]}..: record {seq} does not name it in the chain")
        if state == "included":
            rel = f"media/{sha}.age"
            if rel not in files:
                report.problem(f"{rel}: missing from the bundle")
            elif not hmac.compare_digest(files[rel], sha):
                report.problem(f"{rel}: does not hash to its name (replaced)")
            else:
                report.media_files += 1
        elif state == "redacted":
            rel = f"redacted/{e.get('redacted_sha256')}.age"
            if rel not in files:
                report.problem(f"{rel}: redacted copy missing from the bundle")
            else:
                report.media_files += 1
        elif state not in ("absent", "withheld"):
            report.problem(f"media {sha[:16]}..: unknown state {state!r}")
    for seq, sha in sorted(chained - listed):
        report.problem(f"media {sha[:16]}.. of record {seq}: not accounted for in the manifest")


def _check_seal_macs(seals: list[Seal], store_id: bytes, seed: bytes, doc: dict[str, Any],
                     report: BundleReport) -> None:
    named = str(doc.get("verification_key_fingerprint") or "")
    if named and not hmac.compare_digest(fingerprint(seed), named):
        report.problem(f"verification key {fingerprint(seed)} is not the key of this store "
                       f"({named})")
        return
    schedule = KeySchedule(seed)
    for s in seals:
        if seal_is_valid(schedule.seal_key_for(s.epoch), store_id, s):
            report.seals_authenticated += 1
        else:
            report.problem(f"seal {s.seal_no} (epoch {s.epoch}): MAC was not made with the key "
                           f"of epoch {s.epoch} (forged, altered, or sealed with a later key)")


def _decrypt_all(data: Path, lines: list[_Line], files: dict[str, str],
                 identity: pyrage.x25519.Identity, report: BundleReport,
                 progress: ProgressFn) -> None:
    keys: dict[int, AESGCM | None] = {}
    for n, raw in enumerate(_read(data / "epochs.jsonl", report).splitlines(), 1):
        try:
            d = json.loads(raw)
            epoch, wrapped = int(d["epoch"]), d.get("wrapped_key")
        except (ValueError, KeyError, TypeError):
            report.problem(f"epochs.jsonl line {n}: malformed")
            continue
        if wrapped is None:
            keys[epoch] = None
            continue
        try:
            keys[epoch] = AESGCM(bytes(pyrage.decrypt(base64.b64decode(wrapped), [identity])))
        except (pyrage.DecryptError, ValueError, binascii.Error):
            report.problem(f"epoch {epoch}: data key cannot be decrypted with this identity")
            keys[epoch] = None
    wanted = [line for line in lines if line.selected and line.ct is not None]
    for i, line in enumerate(wanted):
        if line.header.epoch not in keys:
            report.problem(f"record {line.seq}: the key of epoch {line.header.epoch} is "
                           "not in the bundle")
            continue
        aead = keys[line.header.epoch]
        if aead is None:
            continue
        assert line.ct is not None
        try:
            record = open_record(aead, line.header, line.ct)
        except (InvalidTag, ValueError, KeyError, TypeError):
            report.problem(f"record {line.seq}: AEAD tag does not verify")
            continue
        report.aead_checked += 1
        if sorted(m.sha256 for m in record.media) != sorted(line.media):
            report.problem(f"record {line.seq}: media named inside the record differ from "
                           "the chain's")
        if i % 1000 == 0:
            progress("decrypting records", i, len(wanted))
    media = [rel for rel in sorted(files) if rel.endswith(".age")]
    for i, rel in enumerate(media):
        progress("decrypting media", i, len(media))
        try:
            pyrage.decrypt((data / rel).read_bytes(), [identity])
            report.media_decrypted += 1
        except (pyrage.DecryptError, OSError):
            report.problem(f"{rel}: cannot be decrypted with this identity")
    progress("decrypting media", len(media), len(media))
