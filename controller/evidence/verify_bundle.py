"""Checking an evidence bundle anywhere, without the device.

Without keys: the bag (checksums of every payload and tag file), the Ed25519 signature of
bundle.json, that the bag holds exactly the files the signed manifest names with the same
hashes, and media files against their names. The chain segment and its seals (from the
anchor seal or the store's genesis) go through the store's one chain check,
`controller.store.chain_check`, the same walk `edgewarden verify` runs: links, gaps,
order, body hashes, each seal's last_hash, the seal chain.
With the identity: every epoch key, record (AEAD tag) and media file decrypts, and the
media each record names inside its ciphertext are the ones the chain covers.
With the verification key: every seal's MAC under the key of its own epoch, and every
record it covers belongs to that epoch (CVE-2023-31439).
The contents statement (evidence/contents.py), under its own signature: the files present
are exactly those it lists, the selected records exactly those it names, every record of
the segment whose header matches the selection is present, and every absence (an expired
body, a medium not stored, a shredded epoch) is explained by a tombstone the bundle
carries, checked by the store's own tombstone rules (store/tombstone.py) and, when it lies
after the segment, through its own chain segment and seals. A medium the device marked
stored but whose file was missing at export is declared so in the statement; it is
reported as a failure naming it (an unexplained absence, disclosed), and everything else
is still checked.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import itertools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import bagit
import pyrage
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.evidence import contents as ct_doc
from controller.evidence import manifest as mf
from controller.evidence.fixity import FileDigests, digest_files
from controller.store.chain_check import (
    ChainEntry,
    Check,
    Findings,
    Start,
    check_chain,
    ranges,
    standard_checks,
)
from controller.store.checkpoint_file import CHECKPOINT_NAME, check_bundle
from controller.store.keyschedule import fingerprint
from controller.store.records import Header, open_record
from controller.store.retention_class import class_of
from controller.store.sealing import Seal
from controller.store.tombstone import Explainer, parse_source

_MAX_PROBLEMS = 100
ProgressFn = Callable[[str, int, int], None]
_T = TypeVar("_T")


@dataclass
class BundleReport(Findings):
    """What `verify-bundle` found; `records` counts the segment's lines."""

    selected: int = 0
    head_checkpoint: str | None = None
    signer_pinned: bool = False
    media_files: int = 0
    aead_checked: int = 0
    media_decrypted: int = 0
    signing_key: str = ""
    limit: int = _MAX_PROBLEMS
    # (seq, sha256) -> its failure line: media the bundle declares missing at export
    missing_media: dict[tuple[int, str], str] = field(default_factory=dict)

    def missing_at_export(self, seq: int, sha: str) -> None:
        """A disclosed absence: a failure line naming it, never bound by `limit`."""
        line = (f"record {seq}: media {sha} missing at export: the device marked it stored "
                "but its file was not there, and no tombstone explains it")
        self.missing_media[(seq, sha)] = line
        self.problems.append(line)

    def problems_besides_missing(self) -> list[str]:
        """Every problem but the disclosed missing media (what makes an export refused)."""
        lines = set(self.missing_media.values())
        return [p for p in self.problems if p not in lines]


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
    if doc.get("format") in mf.LEGACY_FORMATS:
        report.problem(f"{mf.MANIFEST_NAME}: format {doc.get('format')!r} predates signed "
                       f"contents and tombstones ({mf.BUNDLE_FORMAT}); export it again from "
                       "the device to verify it")
        raise _Stop
    if doc.get("format") != mf.BUNDLE_FORMAT:
        report.problem(f"{mf.MANIFEST_NAME}: unknown format {doc.get('format')!r}")
        raise _Stop
    if not hmac.compare_digest(str(doc.get("signing_public_key", "")), public):
        report.problem(f"{mf.PUBLIC_KEY_NAME}: differs from the key named in the manifest")
    _check_files(files, entries, report)
    lines = _read_records(data / "records.jsonl", report)
    seals = _read_seals(data / "seals.jsonl", report)
    report.seals = len(seals)
    _check_chain(lines, seals, segment, store_id, seed, doc, report)
    _check_checkpoints(data, files, public, doc["store_id"], seals, checkpoints, report)
    _check_media_entries(doc, lines, files, report)
    _check_contents(data, files, entries, doc, lines, seals, store_id, seed, public, report)
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


TOMBSTONES_NAME = "tombstones.jsonl"
_SIGNED = frozenset({mf.MANIFEST_NAME, mf.SIGNATURE_NAME, mf.PUBLIC_KEY_NAME})
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
    for rel, sha in sorted(files.items()):
        if rel not in entries:
            report.problem(f"{rel}: named in the signed manifest but not in the bag")
        elif not hmac.compare_digest(entries[rel], sha):
            report.problem(f"{rel}: differs from the signed manifest (replaced)")
    extra = sorted(set(entries) - set(files) - _SIGNED)
    for rel in extra[:20]:
        report.problem(f"{rel}: in the bag but not in the signed manifest (added)")
    for rel in ("records.jsonl", "seals.jsonl", "epochs.jsonl"):
        if rel not in files:
            report.problem(f"{rel}: not named in the signed manifest")
            raise _Stop


def _read_jsonl(path: Path, report: BundleReport, parse: Callable[[Any], _T]) -> list[_T]:
    """Every line of a JSON-lines file through `parse`; a malformed line stops the check."""
    out = []
    for n, raw in enumerate(_read(path, report).splitlines(), 1):
        try:
            out.append(parse(json.loads(raw)))
        except (ValueError, KeyError, TypeError, binascii.Error):
            report.problem(f"{path.name} line {n}: malformed")
            raise _Stop from None
    return out


def _parse_line(d: Any) -> _Line:
    header = Header(int(d["seq"]), float(d["t_wall"]), int(d["epoch"]), str(d["kind"]),
                    str(d["source"]), str(d["severity"]), bytes.fromhex(d["prev_hash"]))
    ct = base64.b64decode(d["ct"], validate=True) if d.get("ct") is not None else None
    return _Line(header.seq, header, bytes.fromhex(d["body_hash"]),
                 tuple(str(m) for m in d.get("media", [])), bool(d["selected"]), ct)


def _parse_seal(d: Any) -> Seal:
    return Seal(int(d["seal_no"]), int(d["epoch"]), str(d["kind"]), int(d["last_seq"]),
                bytes.fromhex(d["last_hash"]), float(d["t_wall"]), bytes.fromhex(d["prev_mac"]),
                bytes.fromhex(d["mac"]))


def _read_records(path: Path, report: BundleReport) -> list[_Line]:
    out = _read_jsonl(path, report, _parse_line)
    report.records = len(out)
    report.selected = sum(1 for line in out if line.selected)
    return out


def _read_seals(path: Path, report: BundleReport) -> list[Seal]:
    return _read_jsonl(path, report, _parse_seal)


class _ExpiredBodies:
    """A selected record whose body retention dropped on the device is worth a note."""

    def on_anchor(self, seal: Seal, found: Findings) -> None:
        return None

    def on_seal(self, seal: Seal, prev: Seal | None, found: Findings) -> None:
        return None

    def on_record(self, entry: ChainEntry, seal: Seal, head: bytes, found: Findings) -> None:
        if entry.selected and entry.ct is None:
            found.notes.append(f"record {entry.seq}: body expired on the device (header only)")

    def on_end(self, found: Findings) -> None:
        return None


def _check_chain(lines: list[_Line], seals: list[Seal], segment: dict[str, Any],
                 store_id: bytes, seed: bytes | None, doc: dict[str, Any],
                 report: BundleReport) -> None:
    """The segment's records and seals through the store's one chain check."""
    if not lines:
        report.problem("records.jsonl: no records")
        return
    first, last = lines[0].seq, lines[-1].seq
    if first != segment.get("first_seq") or last != segment.get("last_seq") or \
            len(lines) != segment.get("records"):
        report.problem(f"records.jsonl: holds records {first}..{last} ({len(lines)}), "
                       f"the manifest says {segment.get('first_seq')}..{segment.get('last_seq')}")
    _check_whole_epochs(lines, seals, report)
    if not seals:
        report.problem("seals.jsonl: no seals cover the segment")
        return
    if first == 1:
        start, walked = Start.genesis(store_id), seals
    else:
        if seals[0].last_seq != first - 1:
            report.problem(f"seal {seals[0].seal_no}: the first seal does not end right "
                           f"before record {first} (no anchor for the segment)")
        start, walked = Start.after(seals[0]), seals[1:]
    named = str(doc.get("verification_key_fingerprint") or "")
    if seed is not None and named and not hmac.compare_digest(fingerprint(seed), named):
        report.problem(f"verification key {fingerprint(seed)} is not the key of this store "
                       f"({named})")
        seed = None
    checks: list[Check] = [*standard_checks(store_id, seed), _ExpiredBodies()]
    # an epoch the segment's seals name but none of its records is one that was shredded
    shredded = {s.epoch for s in seals} - {line.header.epoch for line in lines}
    found = Findings(report.problems, report.notes, limit=report.limit)
    entries = (ChainEntry(line.header, line.body_hash, line.media, line.ct, line.selected)
               for line in lines)
    check_chain(walked, entries, start, checks=checks, shredded=shredded, found=found)
    report.seals_authenticated = found.seals_authenticated


def _check_whole_epochs(lines: list[_Line], seals: list[Seal], report: BundleReport) -> None:
    """Hook: each gap between the segment's records that a seal bridges must be whole
    closed epochs (stricter than the chain check's "no record of that epoch is here")."""
    ends = {s.last_seq for s in seals}
    for before, line in itertools.pairwise(lines):
        gap_first, gap_last = before.seq + 1, line.seq - 1
        if gap_last >= gap_first and gap_last in ends:
            _whole_epochs_gone(seals, gap_first, gap_last, report)


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


def _check_contents(data: Path, files: dict[str, str], entries: dict[str, str],
                    doc: dict[str, Any], lines: list[_Line], seals: list[Seal],
                    store_id: bytes, seed: bytes | None, public: str,
                    report: BundleReport) -> None:
    """Hook: the signed contents statement against the files, the records and the selection."""
    for rel in (ct_doc.CONTENTS_NAME, ct_doc.CONTENTS_SIGNATURE_NAME):
        if rel not in files:
            report.problem(f"{rel}: not named in the signed manifest (no contents statement)")
            return
    raw = _read(data / ct_doc.CONTENTS_NAME, report)
    if not mf.signature_is_valid(public, raw, _read(data / ct_doc.CONTENTS_SIGNATURE_NAME,
                                                    report)):
        report.problem(f"{ct_doc.CONTENTS_NAME}: Ed25519 signature does not verify "
                       "(contents statement altered or signed by another key)")
        return
    try:
        stated = json.loads(raw)
        selection, redact = ct_doc.selection_from(stated["selection"])
        present = ct_doc.seqs_of(stated["records"])
        carried = {int(s) for s in stated["tombstones"]}
        missing = ct_doc.missing_of(stated)
        listed: dict[str, str] = {str(k): str(v) for k, v in dict(stated["files"]).items()}
    except (ValueError, KeyError, TypeError, IndexError):
        report.problem(f"{ct_doc.CONTENTS_NAME}: not an edgewarden contents statement")
        return
    if stated.get("format") != ct_doc.CONTENTS_FORMAT or \
            stated.get("store_id") != doc["store_id"]:
        report.problem(f"{ct_doc.CONTENTS_NAME}: another format or another store's statement")
    if stated["selection"] != {**dict(doc.get("selection") or {}),
                               "redact": bool(doc.get("redacted"))}:
        report.problem(f"{ct_doc.CONTENTS_NAME}: its selection differs from the manifest's "
                       "(selection edited after export)")
    own = {ct_doc.CONTENTS_NAME, ct_doc.CONTENTS_SIGNATURE_NAME}
    bag = {rel: sha for rel, sha in entries.items() if rel not in _SIGNED | own}
    for rel in sorted(set(listed) - set(bag))[:20]:
        report.problem(f"{rel}: listed in the signed contents but not in the bundle (withheld)")
    for rel in sorted(set(bag) - set(listed))[:20]:
        report.problem(f"{rel}: in the bundle but not in the signed contents (added)")
    for rel in sorted(set(bag) & set(listed)):
        if not hmac.compare_digest(bag[rel], listed[rel]):
            report.problem(f"{rel}: differs from the signed contents (replaced)")
    selected = {line.seq for line in lines if line.selected}
    if selected != present:
        report.problem(f"records {ranges(sorted(present ^ selected))}: the signed contents "
                       "and records.jsonl disagree on what is present (records removed)")
    unselected = [line.seq for line in lines if not line.selected and selection.matches(
        line.header.t_wall, line.header.kind, line.header.source)]
    if unselected:
        report.problem(f"records {ranges(unselected)} match the selection but are not in "
                       "the bundle")
    gone = _carried_tombstones(data if TOMBSTONES_NAME in files else None, lines, carried,
                               store_id, seed, report)
    by_seq = {line.seq: line for line in lines}
    for line in lines:
        if line.selected and line.ct is None and (
                why := gone.body_gone(line.seq, class_of(line.header.kind, line.header.severity),
                                      line.header.t_wall)):
            report.problem(why)
    disclosed: set[tuple[int, str]] = set()
    for e in doc.get("media", []):
        owner = by_seq.get(int(e.get("seq", -1)))
        if owner is None:
            continue
        sha = str(e.get("sha256"))
        if e.get("state") == "absent" and e.get("device_state") == "stored" and \
                (owner.seq, sha) in missing:
            disclosed.add((owner.seq, sha))
            report.missing_at_export(owner.seq, sha)
        elif e.get("state") == "absent" and (why := gone.media_gone(
                owner.seq, sha, str(e.get("device_state")),
                class_of(owner.header.kind, owner.header.severity), owner.header.t_wall)):
            report.problem(why)
        elif e.get("state") == "withheld" and not redact:
            report.problem(f"media {sha[:16]}.. (record {owner.seq}): "
                           "withheld, but the export was not redacted")
    for seq, sha in sorted(missing - disclosed):
        report.problem(f"media {sha[:16]}.. (record {seq}): declared missing at export in "
                       "the signed contents, but the manifest does not list it as absent")
    ended = {s.epoch: s.t_wall for s in seals if s.kind == "end"}
    walked = {s.epoch for s in seals if s.last_seq >= lines[0].seq} if lines else set()
    for epoch in sorted(walked - {line.header.epoch for line in lines}):
        if why := gone.epoch_gone(epoch, ended.get(epoch)):
            report.problem(why)
    for text in gone.problems:
        report.problem(text)


def _carried_tombstones(data: Path | None, lines: list[_Line], carried: set[int], store_id: bytes,
                        seed: bytes | None, report: BundleReport) -> Explainer:
    """The tombstones in the segment and those carried after it, each of the latter through
    the store's one chain check over its own seal-aligned segment."""
    gone = Explainer()
    found_seqs: set[int] = set()
    for line in lines:
        if (detail := parse_source(line.header.source)) is not None:
            gone.add(line.seq, line.header.t_wall, detail)
            found_seqs.add(line.seq)

    def parse(d: Any) -> tuple[int, list[Seal], list[_Line]]:
        return (int(d["tombstone"]), [_parse_seal(s) for s in d["seals"]],
                [_parse_line(r) for r in d["records"]])

    proofs = [] if data is None else _read_jsonl(data / TOMBSTONES_NAME, report, parse)
    for seq, proof_seals, proof_lines in proofs:
        tomb = next((x for x in proof_lines if x.seq == seq), None)
        detail = None if tomb is None else parse_source(tomb.header.source)
        if tomb is None or detail is None or not proof_seals or not proof_lines:
            report.problem(f"{TOMBSTONES_NAME}: tombstone {seq} is not in its own proof")
            continue
        first = proof_lines[0].seq
        if first == 1:
            start, walked = Start.genesis(store_id), proof_seals
        elif proof_seals[0].last_seq == first - 1:
            start, walked = Start.after(proof_seals[0]), proof_seals[1:]
        else:
            report.problem(f"{TOMBSTONES_NAME}: tombstone {seq} has no anchor seal")
            continue
        found = Findings(limit=report.limit)
        entries = (ChainEntry(x.header, x.body_hash, x.media, None, False) for x in proof_lines)
        check_chain(walked, entries, start, checks=standard_checks(store_id, seed),
                    found=found)
        if not found.ok:
            report.problem(f"{TOMBSTONES_NAME}: tombstone {seq} does not verify "
                           f"({found.problems[0]})")
            continue
        gone.add(seq, tomb.header.t_wall, detail)
        found_seqs.add(seq)
    if found_seqs != carried:
        report.problem(f"tombstones {ranges(sorted(found_seqs ^ carried))}: the signed "
                       "contents and the tombstones carried disagree")
    return gone
