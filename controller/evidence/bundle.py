"""Writing an evidence bundle: a BagIt bag of the still-encrypted records of a segment.

Layout of the bag (RFC 8493, sha256 manifests; everything under data/ is payload):

    data/bundle.json       manifest: store, selection, segment, media, sha256 of every file
    data/bundle.json.sig   base64 Ed25519 signature of bundle.json's bytes (device key)
    data/signing-key.pub   the device's Ed25519 public key, hex
    data/records.jsonl     one record per line: header fields, prev_hash/body_hash (hex),
                           media hashes, "selected", "ct" (base64 AES-GCM ciphertext, only
                           for selected records; null otherwise or when expired)
    data/seals.jsonl       the seals over the segment (the first is the anchor before it)
    data/epochs.jsonl      the age-encrypted data keys of the selected records' epochs
    data/media/<sha>.age   media of the selected records, copied as stored on the device
    data/redacted/<sha>.age  with --redact: re-encrypted blurred images (originals left out)

Safe writing: estimate and check free space; write into OUT/.<name>.partial; fsync every
file and directory; verify the whole bundle; only then rename to OUT/<name> and fsync OUT.
A bundle cut short at any point is either a `.partial` (refused by verify-bundle) or fails
its checksums. The store is opened read-only, inside one read transaction (a consistent
snapshot even while the service writes).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import bagit
import pyrage

from controller.errors import EdgewardenError, UsageError
from controller.evidence import manifest as mf
from controller.evidence.redact import boxes_in, is_redactable, redact_image
from controller.evidence.selection import Segment, Selection, plan_segment
from controller.evidence.verify_bundle import BundleReport, verify_bundle
from controller.store import database
from controller.store.history import EpochKeys
from controller.store.layout import StoreLayout, fsync_dir, read_manifest
from controller.store.records import Header, open_record
from controller.store.sealing import Seal

ProgressFn = Callable[[str, int, int], None]
AuditFn = Callable[[dict[str, Any]], None]
_CHUNK = 4 << 20
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


def default_name(store_id: str, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"edgewarden-{store_id[:8]}-{stamp}"


def estimate_bundle(data_dir: Path | str, selection: Selection) -> tuple[int, int]:
    """(records selected, bytes the bundle will take), reading the store read-only."""
    layout = StoreLayout(Path(data_dir))
    conn = database.connect(layout.database, readonly=True)
    try:
        snap = _Snapshot.read(conn, selection)
        return len(snap.selected), snap.estimate(layout)
    finally:
        conn.close()


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

    conn = database.connect(layout.database, readonly=True)
    try:
        conn.isolation_level = None
        conn.execute("BEGIN")  # one snapshot for the whole export
        snap = _Snapshot.read(conn, selection)
        estimate = snap.estimate(layout)
        free = shutil.disk_usage(out).free
        if estimate + _SLACK > free:
            raise EdgewardenError(
                f"{out}: not enough free space (bundle needs about {_mb(estimate)} MB, "
                f"{_mb(free)} MB free)")
        if partial.exists():
            shutil.rmtree(partial)  # left by an export that was cut short
        partial.mkdir(mode=0o700)
        try:
            written = _write_payload(layout, store, conn, snap, partial, selection, identity,
                                     redact, now, signing, progress)
        finally:
            conn.execute("ROLLBACK")
    except BaseException:
        conn.close()
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
        raise
    conn.close()
    try:
        progress("checksums", 0, 1)
        bagit.make_bag(str(partial), bag_info={
            "Source-Organization": "edgewarden",
            "External-Identifier": name,
            "External-Description": "edgewarden evidence bundle; check with "
                                    "`edgewarden verify-bundle`",
        }, checksums=["sha256"], processes=1)
        progress("checksums", 1, 1)
        _fsync_tree(partial)
        report = verify_bundle(partial, identity=identity, allow_partial=True,
                               progress=progress)
        if not report.ok:
            raise EdgewardenError(f"{partial}: bundle did not verify after writing: "
                                  f"{report.problems[0]}")
        os.rename(partial, final)
        fsync_dir(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    os.sync()
    return ExportResult(final, written.records, written.selected, written.media,
                        written.redacted, written.withheld, _tree_bytes(final), report)


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
    def read(cls, conn: sqlite3.Connection, selection: Selection) -> _Snapshot:
        since = -math.inf if selection.since is None else selection.since
        until = math.inf if selection.until is None else selection.until
        rows = conn.execute("SELECT seq, t_wall, kind, source FROM records "
                            "WHERE t_wall >= ? AND t_wall <= ?", (since, until))
        selected = {int(seq) for seq, t, kind, source in rows
                    if selection.matches(t, kind, source)}
        if not selected:
            raise EdgewardenError("no records match the selection; nothing exported")
        seals = [
            Seal(n, e, k, ls, bytes(lh), tw, bytes(pm), bytes(m))
            for n, e, k, ls, lh, tw, pm, m in conn.execute(
                "SELECT seal_no, epoch, kind, last_seq, last_hash, t_wall, prev_mac, mac "
                "FROM seals ORDER BY seal_no")
        ]
        last_record = int(conn.execute("SELECT MAX(seq) FROM records").fetchone()[0])
        segment = plan_segment(seals, min(selected), max(selected), last_record)
        media: dict[int, list[tuple[str, int, str]]] = {}
        for seq, sha, size, state in conn.execute(
            "SELECT seq, sha256, size, state FROM media WHERE seq BETWEEN ? AND ? "
            "ORDER BY seq, sha256", (segment.first_seq, segment.last_seq)):
            media.setdefault(int(seq), []).append((str(sha), int(size), str(state)))
        ct_bytes = sum(
            int(r[0] or 0) for r in conn.execute(
                "SELECT LENGTH(ct) FROM bodies WHERE seq BETWEEN ? AND ?",
                (min(selected), max(selected))))
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


class _HashingWriter:
    """A new file that hashes what goes into it and is fsynced on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[bytes] = open(path, "xb")  # noqa: SIM115 - closed in close()
        self._h = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._h.update(data)
        self._f.write(data)

    def close(self) -> str:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return self._h.hexdigest()


def _jsonl_line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8") + b"\n"


def _write_payload(
    layout: StoreLayout, store: dict[str, Any], conn: sqlite3.Connection, snap: _Snapshot,
    root: Path, selection: Selection, identity: pyrage.x25519.Identity | None, redact: bool,
    now: float, signing: Any, progress: ProgressFn,
) -> _Written:
    seg = snap.segment
    files: dict[str, str] = {}
    written = _Written()
    keys = EpochKeys(conn, identity) if identity is not None else None
    recipients = [pyrage.x25519.Recipient.from_str(r) for r in store["recipients"]]
    media_entries: list[dict[str, Any]] = []
    to_copy: list[str] = []
    redact_jobs: list[tuple[int, str, str, list[Any]]] = []  # seq, sha, content type, boxes
    epochs: set[int] = set()
    total = seg.last_seq - seg.first_seq + 1
    first_prev: str | None = None

    rec = _HashingWriter(root / "records.jsonl")
    try:
        for seq, t_wall, epoch, kind, source, severity, prev, body_hash, ct in conn.execute(
            "SELECT r.seq, r.t_wall, r.epoch, r.kind, r.source, r.severity, r.prev_hash, "
            "r.body_hash, b.ct FROM records r LEFT JOIN bodies b ON b.seq = r.seq "
            "WHERE r.seq BETWEEN ? AND ? ORDER BY r.seq", (seg.first_seq, seg.last_seq)):
            chosen = seq in snap.selected
            media = snap.media.get(seq, [])
            if first_prev is None:
                first_prev = bytes(prev).hex()
            line = {
                "seq": seq, "t_wall": t_wall, "epoch": epoch, "kind": kind, "source": source,
                "severity": severity, "prev_hash": bytes(prev).hex(),
                "body_hash": bytes(body_hash).hex(), "media": [m[0] for m in media],
                "selected": chosen,
                "ct": base64.b64encode(bytes(ct)).decode("ascii")
                if chosen and ct is not None else None,
            }
            rec.write(_jsonl_line(line))
            written.records += 1
            if chosen:
                written.selected += 1
                epochs.add(epoch)
                refs: dict[str, str] = {}
                body: Any = None
                if redact and keys is not None and ct is not None and media:
                    aead = keys.get(epoch)
                    if aead is not None:
                        header = Header(seq, t_wall, epoch, kind, source, severity, bytes(prev))
                        record = open_record(aead, header, bytes(ct))
                        refs = {m.sha256: m.content_type for m in record.media}
                        body = record.body
                for sha, size, state in media:
                    entry: dict[str, Any] = {"seq": seq, "sha256": sha, "size": size}
                    if state != "stored" or not layout.media_file(sha).exists():
                        entry["state"] = "absent"
                        entry["device_state"] = state
                    elif redact and is_redactable(refs.get(sha, "")):
                        redact_jobs.append((seq, sha, refs[sha], boxes_in(body)))
                        entry["state"] = "redacted"
                    elif redact:
                        entry["state"] = "withheld"
                        entry["reason"] = "not an image that can be redacted"
                        written.withheld += 1
                    else:
                        entry["state"] = "included"
                        to_copy.append(sha)
                    media_entries.append(entry)
            if written.records % 2000 == 0:
                progress("records", written.records, total)
    finally:
        files["records.jsonl"] = rec.close()
    progress("records", written.records, total)

    files["seals.jsonl"] = _write_lines(root / "seals.jsonl", (
        {"seal_no": s.seal_no, "epoch": s.epoch, "kind": s.kind, "last_seq": s.last_seq,
         "last_hash": s.last_hash.hex(), "t_wall": s.t_wall, "prev_mac": s.prev_mac.hex(),
         "mac": s.mac.hex()} for s in seg.seals))
    low, high = (min(epochs), max(epochs)) if epochs else (0, -1)
    files["epochs.jsonl"] = _write_lines(root / "epochs.jsonl", (
        {"epoch": e, "wrapped_key": base64.b64encode(bytes(wk)).decode("ascii")
         if wk is not None else None}
        for e, wk in conn.execute(
            "SELECT epoch, wrapped_key FROM epochs WHERE epoch BETWEEN ? AND ? ORDER BY epoch",
            (low, high)) if e in epochs))

    if to_copy:
        (root / "media").mkdir()
    total_media = sum(layout.media_file(s).stat().st_size for s in to_copy)
    done = 0
    for sha in to_copy:
        rel = f"media/{sha}.age"
        files[rel], size = _copy_checked(layout.media_file(sha), root / rel, sha)
        done += size
        written.media += 1
        progress("media", done, total_media)
    if redact_jobs:
        (root / "redacted").mkdir()
    for i, (seq, sha, content_type, boxes) in enumerate(redact_jobs):
        progress("redacting", i, len(redact_jobs))
        entry = next(e for e in media_entries if e["sha256"] == sha and e["seq"] == seq)
        assert identity is not None
        plain = _read_media(layout.media_file(sha), sha, identity)
        try:
            red = redact_image(plain, content_type, boxes)
        except ValueError as exc:
            entry.update(state="withheld", reason=str(exc))
            written.withheld += 1
            continue
        ct = pyrage.encrypt(red.data, recipients)
        new_sha = hashlib.sha256(ct).hexdigest()
        rel = f"redacted/{new_sha}.age"
        w = _HashingWriter(root / rel)
        w.write(ct)
        files[rel] = w.close()
        entry.update(redacted_sha256=new_sha, regions=red.regions, methods=list(red.methods),
                     content_type=content_type)
        written.redacted += 1
    if redact_jobs:
        progress("redacting", len(redact_jobs), len(redact_jobs))

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
        "files": files,
    }
    manifest_bytes = mf.encode_manifest(doc)
    for fname, data in ((mf.MANIFEST_NAME, manifest_bytes),
                        (mf.SIGNATURE_NAME, mf.sign(signing, manifest_bytes)),
                        (mf.PUBLIC_KEY_NAME, (mf.public_hex(signing) + "\n").encode())):
        w = _HashingWriter(root / fname)
        w.write(data)
        w.close()
    return written


def _write_lines(path: Path, docs: Iterable[dict[str, Any]]) -> str:
    w = _HashingWriter(path)
    for doc in docs:
        w.write(_jsonl_line(doc))
    return w.close()


def _copy_checked(src: Path, dst: Path, sha: str) -> tuple[str, int]:
    """Copy a media file in the kernel (like cp) and fsync it.

    No hashing here: the bag manifest hashes the copy, and verification compares that
    hash with the file's name, so a file altered on the device or on the way is caught.
    """
    try:
        shutil.copyfile(src, dst)
    except OSError as exc:
        raise EdgewardenError(f"{src}: cannot copy to {dst} ({exc.strerror})") from None
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    return sha, size


def _read_media(path: Path, sha: str, identity: pyrage.x25519.Identity) -> bytes:
    ct = path.read_bytes()
    if hashlib.sha256(ct).hexdigest() != sha:
        raise EdgewardenError(f"{path}: media file on the device does not match its name")
    try:
        return bytes(pyrage.decrypt(ct, [identity]))
    except pyrage.DecryptError:
        raise EdgewardenError(f"{path}: cannot decrypt with this identity") from None


def _fsync_tree(root: Path) -> None:
    """fsync every file, then every directory bottom-up (bagit writes without syncing)."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for fname in filenames:
            fd = os.open(os.path.join(dirpath, fname), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))
    fsync_dir(root.parent)


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
