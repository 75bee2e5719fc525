"""Writing an evidence bundle: a BagIt bag of the still-encrypted records of a segment.

Layout of the bag (RFC 8493, sha256 manifests; everything under data/ is payload):

    data/bundle.json       manifest: store, selection, segment, media, sha256 of every file
    data/bundle.json.sig   base64 Ed25519 signature of bundle.json's bytes (device key)
    data/signing-key.pub   the device's Ed25519 public key, hex
    data/records.jsonl     one record per line: header fields, prev_hash/body_hash (hex),
                           media hashes, "selected", "ct" (base64 AES-GCM ciphertext, only
                           for selected records; null otherwise or when expired)
    data/seals.jsonl       the seals over the segment (the first is the anchor before it)
    data/checkpoint.txt    signed checkpoint of the store's head at export (store/checkpoint.py)
    data/epochs.jsonl      the age-encrypted data keys of the selected records' epochs
    data/tombstones.jsonl  when needed: tombstones after the segment that explain an absence
                           in it, each with its own seal-aligned chain segment (headers
                           only) to prove it
    data/contents.json     the contents statement (evidence/contents.py): selection, seqs
                           present, tombstones carried, media missing at export, every
                           other file's sha256
    data/contents.json.sig its own Ed25519 signature (device key), apart from bundle.json's
    data/media/<sha>.age   media of the selected records, copied as stored on the device
    data/redacted/<sha>.age  with --redact: re-encrypted blurred images (originals left out)

Safe writing: estimate and check free space; write into OUT/.<name>.partial; fsync every
file and directory; verify the whole bundle; only then rename to OUT/<name> and fsync OUT.
A bundle cut short at any point is either a `.partial` (refused by verify-bundle) or fails
its checksums. A medium the device marks stored whose file is missing is no reason to give
the investigator nothing: the bundle is written with everything that exists, declares the
medium missing at export in its signed contents, and verify-bundle reports it as a failure;
any other problem the verification finds still refuses the export. The store is opened
read-only, inside one read transaction (a consistent snapshot even while the service
writes).

Speed: media are copied in the kernel (like cp) by a few threads, each fsyncing its file
while the others copy, so the disk writes while copying goes on. Their bag checksums are
their names (media files are content-addressed by SHA-256), so the payload is hashed
once, by the verification that reads the written bundle back (evidence/fixity.py), not
also by the bagging (evidence/bag.py writes the tag files from the digests known).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyrage

from controller.atomic_file import creating, fsync_dir
from controller.errors import EdgewardenError, UsageError
from controller.evidence import contents as ct_doc
from controller.evidence import manifest as mf
from controller.evidence.bag import write_tag_files
from controller.evidence.redact import (
    Box,
    PlateBoxes,
    boxes_in,
    is_redactable,
    plate_box_of,
    redact_media,
)
from controller.evidence.selection import Segment, Selection, plan_segment
from controller.evidence.verify_bundle import TOMBSTONES_NAME, BundleReport, verify_bundle
from controller.store.checkpoint_file import CHECKPOINT_NAME, head_checkpoint
from controller.store.history import EpochKeys
from controller.store.layout import StoreLayout, read_manifest
from controller.store.reader import StoredRecord, StoreReader
from controller.store.records import open_record
from controller.store.retention_class import class_of
from controller.store.sealing import Seal
from controller.store.tombstone import PREFIX as TOMBSTONE_PREFIX
from controller.store.tombstone import Explainer, parse_source

ProgressFn = Callable[[str, int, int], None]
AuditFn = Callable[[dict[str, Any]], None]
_COPY_THREADS = 4  # copying and fsyncing wait on the disk more than on a core
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
_HEADER_OVERHEAD = 400  # bytes of JSON per record line, generous
_SLACK = 1 << 20


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int
    selected: int
    media_files: int
    redacted: int
    withheld: int
    bytes_written: int
    report: BundleReport = field(repr=False)
    # (seq, sha256) of media marked stored on the device whose files were missing
    missing_media: tuple[tuple[int, str], ...] = ()


def default_name(store_id: str, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"edgewarden-{store_id[:8]}-{stamp}"


def estimate_bundle(data_dir: Path | str, selection: Selection) -> tuple[int, int]:
    """(records selected, bytes the bundle will take), reading the store read-only."""
    layout = StoreLayout(Path(data_dir))
    with StoreReader(layout.database) as reader:
        snap = _Snapshot.read(reader, selection)
        return len(snap.selected), snap.estimate(layout)


def removable_mounts(mounts_file: Path = Path("/proc/mounts")) -> list[str]:
    """Mounted filesystems under the usual places for USB sticks (/media, /run/media, /mnt)."""
    found: list[str] = []
    try:
        lines = mounts_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split()
        if len(parts) >= 2:
            point = parts[1].replace("\\040", " ")
            if point.startswith(("/media/", "/run/media/", "/mnt/")) and point not in found:
                found.append(point)
    return found


def export_bundle(
    data_dir: Path | str,
    out_dir: Path | str,
    selection: Selection,
    *,
    now: float,
    name: str | None = None,
    identity: pyrage.x25519.Identity | None = None,
    redact: bool = False,
    progress: ProgressFn | None = None,
    on_audit: AuditFn | None = None,
) -> ExportResult:
    """Write, verify and publish one bundle; raises EdgewardenError with nothing published.

    Safe to call from a worker thread; `progress(stage, done, total)` is called from it.
    `on_audit` receives the audit record body (success or failure) for the caller to store.
    """
    layout = StoreLayout(Path(data_dir))
    out = Path(out_dir)
    store = read_manifest(layout)
    name = name or default_name(store["store_id"], now)
    audit: dict[str, Any] = {"action": "export", "bundle": name, "destination": str(out),
                             "selection": selection.to_json(), "redacted": redact}
    try:
        result = _export(layout, store, out, name, selection, identity, redact, now,
                         progress or _no_progress)
    except EdgewardenError as exc:
        audit.update(outcome="failed", reason=str(exc))
        if on_audit is not None:
            on_audit(audit)
        raise
    audit.update(outcome="ok", records=result.records, selected=result.selected,
                 media_files=result.media_files, bytes=result.bytes_written)
    if result.missing_media:
        audit["missing_media"] = [{"seq": seq, "sha256": sha}
                                  for seq, sha in result.missing_media[:100]]
        audit["missing_media_count"] = len(result.missing_media)
    if on_audit is not None:
        on_audit(audit)
    return result


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


def _export(layout: StoreLayout, store: dict[str, Any], out: Path, name: str,
            selection: Selection, identity: pyrage.x25519.Identity | None, redact: bool,
            now: float, progress: ProgressFn) -> ExportResult:
    if not _NAME_OK.match(name):
        raise UsageError(f"bundle name {name!r}: use letters, digits, '.', '_' and '-'")
    if redact and identity is None:
        raise UsageError("--redact needs the identity (--identity): blurring needs plaintext")
    if not out.is_dir():
        raise UsageError(f"{out}: destination is not a directory")
    final = out / name
    partial = out / f".{name}.partial"
    if final.exists():
        raise EdgewardenError(f"{final}: already exists; refusing to overwrite")
    try:
        signing = mf.load_signing_key(layout.signing_key.read_bytes())
    except OSError as exc:
        raise EdgewardenError(f"{layout.signing_key}: cannot read ({exc.strerror})") from None
    except ValueError as exc:
        raise EdgewardenError(f"{layout.signing_key}: {exc}") from None

    try:
        # one read snapshot for the whole export; nothing is written to the store
        with StoreReader(layout.database) as reader, reader.snapshot():
            snap = _Snapshot.read(reader, selection)
            estimate = snap.estimate(layout)
            free = shutil.disk_usage(out).free
            if estimate + _SLACK > free:
                raise EdgewardenError(
                    f"{out}: not enough free space (bundle needs about {_mb(estimate)} MB, "
                    f"{_mb(free)} MB free)")
            if partial.exists():
                shutil.rmtree(partial)  # left by an export that was cut short
            partial.mkdir(mode=0o700)
            (partial / "data").mkdir(mode=0o700)
            written = _write_payload(layout, store, reader, snap, partial / "data",
                                     selection, identity, redact, now, signing, progress)
        write_tag_files(partial, written.payload, {
            "Source-Organization": "edgewarden",
            "External-Identifier": name,
            "External-Description": "edgewarden evidence bundle; check with "
                                    "`edgewarden verify-bundle`",
        }, now=now)
        _fsync_dirs(partial)  # every file was fsynced as it was written
        report = verify_bundle(partial, identity=identity, allow_partial=True,
                               progress=progress)
        others = report.problems_besides_missing()
        if others:
            raise EdgewardenError(f"{partial}: bundle did not verify after writing: "
                                  f"{others[0]}")
        if set(report.missing_media) != set(written.missing):
            raise EdgewardenError(f"{partial}: bundle did not verify after writing: the media "
                                  "missing at export differ from those it declares")
        os.rename(partial, final)
        fsync_dir(out)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        where = exc.filename or out
        raise EdgewardenError(f"{where}: cannot write the bundle "
                              f"({exc.strerror or exc})") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return ExportResult(final, written.records, written.selected, written.media,
                        written.redacted, written.withheld, _tree_bytes(final), report,
                        tuple(sorted(written.missing)))


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


@dataclass
class _Snapshot:
    seals: list[Seal]
    selected: set[int]
    segment: Segment
    media: dict[int, list[tuple[str, int, str]]]  # seq -> (sha256, size, state)
    selected_ct_bytes: int

    @classmethod
    def read(cls, reader: StoreReader, selection: Selection) -> _Snapshot:
        selected = {int(seq) for seq, t, kind, source in
                    reader.headers_between(selection.since, selection.until)
                    if selection.matches(t, kind, source)}
        if not selected:
            raise EdgewardenError("no records match the selection; nothing exported")
        seals = reader.seals()
        segment = plan_segment(seals, min(selected), max(selected), reader.last_seq())
        media: dict[int, list[tuple[str, int, str]]] = {}
        for m in reader.media(segment.first_seq, segment.last_seq):
            media.setdefault(m.seq, []).append((m.sha256, m.size, m.state))
        ct_bytes = reader.ciphertext_bytes(min(selected), max(selected))
        return cls(seals, selected, segment, media, ct_bytes)

    def estimate(self, layout: StoreLayout) -> int:
        """Bytes the bundle will take (ciphertexts as base64, media files, JSON)."""
        media = 0
        for seq in self.selected:
            for sha, _, state in self.media.get(seq, ()):
                if state == "stored":
                    with contextlib.suppress(FileNotFoundError):
                        media += layout.media_file(sha).stat().st_size
        records = self.segment.last_seq - self.segment.first_seq + 1
        return (self.selected_ct_bytes * 4 // 3 + records * _HEADER_OVERHEAD
                + len(self.seals) * _HEADER_OVERHEAD + media + 64 * 1024)


@dataclass
class _Written:
    records: int = 0
    selected: int = 0
    media: int = 0
    redacted: int = 0
    withheld: int = 0
    payload: dict[str, tuple[str, int]] = field(default_factory=dict)  # rel: (sha256, size)
    missing: list[tuple[int, str]] = field(default_factory=list)  # stored, file not there


class _HashingWriter:
    """A new private file that hashes what goes into it and is fsynced on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._open = contextlib.ExitStack()  # the whole tree's directories are synced at the end
        self._f = self._open.enter_context(creating(path, 0o600, sync_dir=False,
                                                    buffering=1 << 20))
        self._h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._h.update(data)
        self._f.write(data)
        self.size += len(data)

    def close(self) -> str:
        self._open.close()  # flush, fsync, close
        return self._h.hexdigest()


def _jsonl_line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8") + b"\n"


def _write_payload(
    layout: StoreLayout, store: dict[str, Any], reader: StoreReader, snap: _Snapshot,
    root: Path, selection: Selection, identity: pyrage.x25519.Identity | None, redact: bool,
    now: float, signing: Any, progress: ProgressFn,
) -> _Written:
    seg = snap.segment
    written = _Written()
    keys = reader.epoch_keys(identity) if identity is not None else None
    recipients = [pyrage.x25519.Recipient.from_str(r) for r in store["recipients"]]
    media_entries: list[dict[str, Any]] = []
    to_copy: dict[str, None] = {}  # ordered set of sha256
    to_redact: dict[str, str] = {}  # sha256 -> content type, once per file
    epochs: set[int] = set()
    total = seg.last_seq - seg.first_seq + 1
    first_prev: str | None = None
    absent_bodies: list[tuple[int, str, float]] = []
    kinds: dict[int, tuple[str, float]] = {}
    epochs_seen: set[int] = set()
    tombstones_seen: set[int] = set()

    rec = _HashingWriter(root / "records.jsonl")
    try:
        for stored in reader.records(seg.first_seq, seg.last_seq):
            header, ct = stored.header, stored.ct
            seq, t_wall, epoch, prev = header.seq, header.t_wall, header.epoch, header.prev_hash
            kind, source = header.kind, header.source
            chosen = seq in snap.selected
            media = snap.media.get(seq, [])
            if first_prev is None:
                first_prev = prev.hex()
            epochs_seen.add(epoch)
            if source.startswith(TOMBSTONE_PREFIX):
                tombstones_seen.add(seq)
            line = _header_line(stored, [m[0] for m in media], chosen)
            rec.write(_jsonl_line(line))
            written.records += 1
            if chosen:
                written.selected += 1
                cls = class_of(kind, header.severity)  # what retention judged it by
                if ct is None:
                    absent_bodies.append((seq, cls, t_wall))
                kinds[seq] = (cls, t_wall)
                epochs.add(epoch)
                refs: dict[str, str] = {}
                if redact and keys is not None and ct is not None and media:
                    aead = keys.get(epoch)
                    if aead is not None:
                        record = open_record(aead, header, ct)
                        refs = {m.sha256: m.content_type for m in record.media}
                for sha, size, state in media:
                    entry: dict[str, Any] = {"seq": seq, "sha256": sha, "size": size}
                    if state != "stored" or not layout.media_file(sha).exists():
                        entry["state"] = "absent"
                        entry["device_state"] = state
                        if state == "stored":
                            entry["reason"] = "file missing on the device at export"
                            written.missing.append((seq, sha))
                    elif redact and is_redactable(refs.get(sha, "")):
                        to_redact.setdefault(sha, refs[sha])
                        entry["state"] = "redacted"
                    elif redact:
                        entry["state"] = "withheld"
                        entry["reason"] = f"{refs.get(sha) or 'media'} cannot be redacted"
                        written.withheld += 1
                    else:
                        entry["state"] = "included"
                        to_copy.setdefault(sha)  # records may share a file (one clip)
                    media_entries.append(entry)
            if written.records % 2000 == 0:
                progress("records", written.records, total)
    finally:
        written.payload["records.jsonl"] = (rec.close(), rec.size)
    progress("records", written.records, total)

    _write_lines(root, "seals.jsonl", written, (_seal_doc(s) for s in seg.seals))
    _write_lines(root, "epochs.jsonl", written, (
        {"epoch": e, "wrapped_key": base64.b64encode(wk).decode("ascii")
         if wk is not None else None}
        for e, wk in reader.wrapped_keys(epochs)))

    if to_copy:
        (root / "media").mkdir(mode=0o700)
    total_media = sum(layout.media_file(s).stat().st_size for s in to_copy)
    done = 0
    with ThreadPoolExecutor(max_workers=_COPY_THREADS, thread_name_prefix="export") as pool:
        copies = [(sha, pool.submit(_copy_synced, layout.media_file(sha),
                                    root / f"media/{sha}.age")) for sha in to_copy]
        try:
            for sha, fut in copies:
                size = fut.result()
                # content-addressed: the name is the digest; verification re-hashes the copy
                written.payload[f"media/{sha}.age"] = (sha, size)
                done += size
                written.media += 1
                progress("media", done, total_media)
        finally:
            for _, fut in copies:
                fut.cancel()
    if to_redact:
        (root / "redacted").mkdir(mode=0o700)
    for i, (sha, content_type) in enumerate(to_redact.items()):
        progress("redacting", i, len(to_redact))
        assert identity is not None and keys is not None
        entries = [e for e in media_entries if e["sha256"] == sha]
        plain = _read_media(layout.media_file(sha), sha, identity)
        try:
            boxes, plates = _boxes_of_media(reader, keys, sha, snap.selected)
            red = redact_media(plain, content_type, boxes, plates=plates)
        except ValueError as exc:
            for entry in entries:
                entry.update(state="withheld", reason=str(exc))
            written.withheld += 1
            continue
        ct = pyrage.encrypt(red.data, recipients)
        new_sha = hashlib.sha256(ct).hexdigest()
        rel = f"redacted/{new_sha}.age"
        w = _HashingWriter(root / rel)
        w.write(ct)
        written.payload[rel] = (w.close(), w.size)
        for entry in entries:
            entry.update(redacted_sha256=new_sha, regions=red.regions,
                         methods=list(red.methods), content_type=red.content_type,
                         original_content_type=content_type, frames=red.frames)
        written.redacted += 1
    if to_redact:
        progress("redacting", len(to_redact), len(to_redact))

    head = head_checkpoint(reader.last_seal(), store["store_id"], signing)  # hook: the store's head
    if head is not None:
        w = _HashingWriter(root / CHECKPOINT_NAME)
        w.write(head.encode())
        written.payload[CHECKPOINT_NAME] = (w.close(), w.size)
    absent_media = [(int(e["seq"]), str(e["sha256"]), str(e["device_state"]),
                     *kinds[int(e["seq"])]) for e in media_entries if e["state"] == "absent"]
    shredded = {s.epoch for s in seg.seals if s.last_seq >= seg.first_seq} - epochs_seen
    proofs = _tombstone_proofs(reader, snap, absent_bodies, absent_media, shredded)
    if proofs:  # only when something needs them (an empty file is no evidence)
        _write_lines(root, TOMBSTONES_NAME, written, proofs)
    carried = tombstones_seen | {int(p["tombstone"]) for p in proofs}
    statement = ct_doc.encode(
        store["store_id"], ct_doc.selection_doc(selection, redact), snap.selected, carried,
        {rel: digest for rel, (digest, _) in written.payload.items()}, written.missing)
    for fname, data in ((ct_doc.CONTENTS_NAME, statement),
                        (ct_doc.CONTENTS_SIGNATURE_NAME, mf.sign(signing, statement))):
        w = _HashingWriter(root / fname)
        w.write(data)
        written.payload[fname] = (w.close(), w.size)
    doc = {
        "format": mf.BUNDLE_FORMAT,
        "created": now,
        "store_id": store["store_id"],
        "recipients": store["recipients"],
        "signing_public_key": mf.public_hex(signing),
        "verification_key_fingerprint": store.get("verification_key_fingerprint"),
        "selection": selection.to_json(),
        "segment": {"first_seq": seg.first_seq, "last_seq": seg.last_seq,
                    "first_prev_hash": first_prev, "records": written.records,
                    "selected": written.selected, "seals": len(seg.seals)},
        "redacted": redact,
        "media": media_entries,
        "files": {rel: digest for rel, (digest, _) in written.payload.items()},
    }
    manifest_bytes = mf.encode_manifest(doc)
    for fname, data in ((mf.MANIFEST_NAME, manifest_bytes),
                        (mf.SIGNATURE_NAME, mf.sign(signing, manifest_bytes)),
                        (mf.PUBLIC_KEY_NAME, (mf.public_hex(signing) + "\n").encode())):
        w = _HashingWriter(root / fname)
        w.write(data)
        written.payload[fname] = (w.close(), w.size)
    return written


def _header_line(stored: StoredRecord, media: list[str], chosen: bool) -> dict[str, Any]:
    """One records.jsonl line: the chained header, with the ciphertext only when chosen."""
    h = stored.header
    return {
        "seq": h.seq, "t_wall": h.t_wall, "epoch": h.epoch, "kind": h.kind,
        "source": h.source, "severity": h.severity, "prev_hash": h.prev_hash.hex(),
        "body_hash": stored.body_hash.hex(), "media": media, "selected": chosen,
        "ct": base64.b64encode(stored.ct).decode("ascii")
        if chosen and stored.ct is not None else None,
    }


def _tombstone_proofs(reader: StoreReader, snap: _Snapshot,
                      bodies: list[tuple[int, str, float]],
                      media: list[tuple[int, str, str, str, float]],
                      shredded: set[int]) -> list[dict[str, Any]]:
    """Hook: each tombstone after the segment that explains one of its absences, with the
    seal-aligned chain segment around it (headers only), so the bundle can prove it."""
    ended = {s.epoch: s.t_wall for s in snap.seals if s.kind == "end"}
    proofs: list[dict[str, Any]] = []
    # the first tombstone that explains each absence (later retention runs explain it again)
    open_bodies, open_media, open_epochs = list(bodies), list(media), set(shredded)
    for seq, t_wall, source in reader.sources_starting(TOMBSTONE_PREFIX):
        detail = parse_source(source)
        if seq <= snap.segment.last_seq or detail is None:
            continue
        if not (open_bodies or open_media or open_epochs):
            break
        one = Explainer()
        one.add(seq, t_wall, detail)
        n = len(open_bodies) + len(open_media) + len(open_epochs)
        open_bodies = [b for b in open_bodies if one.body_gone(*b) is not None]
        open_media = [m for m in open_media if one.media_gone(*m) is not None]
        open_epochs = {e for e in open_epochs if one.epoch_gone(e, ended.get(e)) is not None}
        if len(open_bodies) + len(open_media) + len(open_epochs) == n:
            continue
        around = plan_segment(snap.seals, seq, seq, reader.last_seq())
        names: dict[int, list[str]] = {}
        for m in reader.media(around.first_seq, around.last_seq):
            names.setdefault(m.seq, []).append(m.sha256)
        proofs.append({
            "tombstone": seq,
            "seals": [_seal_doc(s) for s in around.seals],
            "records": [_header_line(r, names.get(r.header.seq, []), False)
                        for r in reader.records(around.first_seq, around.last_seq)],
        })
    return proofs


def _seal_doc(s: Seal) -> dict[str, Any]:
    return {"seal_no": s.seal_no, "epoch": s.epoch, "kind": s.kind, "last_seq": s.last_seq,
            "last_hash": s.last_hash.hex(), "t_wall": s.t_wall, "prev_mac": s.prev_mac.hex(),
            "mac": s.mac.hex()}


def _write_lines(root: Path, rel: str, written: _Written,
                 docs: Iterable[dict[str, Any]]) -> None:
    w = _HashingWriter(root / rel)
    for doc in docs:
        w.write(_jsonl_line(doc))
    written.payload[rel] = (w.close(), w.size)


def _copy_synced(src: Path, dst: Path) -> int:
    """Copy a media file in the kernel (like cp) into a new 0600 file, fsync it; its size.

    No hashing here: the file's name is its SHA-256, which goes into the bag manifest,
    and the verification that follows hashes the copy, so a file altered on the device
    or on the way is caught there.
    """
    try:
        with src.open("rb") as fin, creating(dst, 0o600, sync_dir=False) as fout:
            size = os.fstat(fin.fileno()).st_size
            offset = 0
            while offset < size:
                sent = os.sendfile(fout.fileno(), fin.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent
    except OSError as exc:
        raise EdgewardenError(f"{src}: cannot copy to {dst} ({exc.strerror or exc})") \
            from None
    if offset != size:
        raise EdgewardenError(f"{src}: changed size while it was copied")
    return size


def _boxes_of_media(reader: StoreReader, keys: EpochKeys, sha: str,
                    selected: Collection[int]) -> tuple[list[Any], PlateBoxes]:
    """The detector's boxes of every record on the device that names this media file,
    and the plates of the plate reads that name it: kept readable for a selected read,
    blurred for the others.

    One clip can serve several events (objects seen during the same recording); each
    event's boxes must be obscured in it, whether or not that event was selected.
    """
    boxes: list[Any] = []
    keep: list[Box] = []
    blur: list[Box] = []
    for stored in reader.records_naming_media(sha):
        aead = keys.get(stored.header.epoch) if stored.ct is not None else None
        if aead is None:
            continue  # body expired or epoch shredded: nothing left to read boxes from
        assert stored.ct is not None
        record = open_record(aead, stored.header, stored.ct)
        if record.kind != "plate":
            boxes.extend(boxes_in(record.body))
            continue
        roles = record.body.get("media") if isinstance(record.body, dict) else None
        for i, ref in enumerate(record.media):
            role = roles[i] if isinstance(roles, list) and i < len(roles) else None
            box = plate_box_of(record.body, str(role)) if ref.sha256 == sha else None
            if box is not None:
                (keep if record.seq in selected else blur).append(box)
    return boxes, PlateBoxes(tuple(keep), tuple(blur))


def _read_media(path: Path, sha: str, identity: pyrage.x25519.Identity) -> bytes:
    ct = path.read_bytes()
    if hashlib.sha256(ct).hexdigest() != sha:
        raise EdgewardenError(f"{path}: media file on the device does not match its name")
    try:
        return bytes(pyrage.decrypt(ct, [identity]))
    except pyrage.DecryptError:
        raise EdgewardenError(f"{path}: cannot decrypt with this identity") from None


def _fsync_dirs(root: Path) -> None:
    """fsync every directory bottom-up, so every file's name is durable too."""
    for dirpath, _dirnames, _filenames in os.walk(root, topdown=False):
        fsync_dir(Path(dirpath))


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
