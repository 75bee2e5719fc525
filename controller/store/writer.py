"""The one writer of the record store: encrypts, chains, seals and commits in batches.

`append` only validates and queues (in the caller's thread); a single writer thread
takes everything queued, encrypts it under the current epoch key, extends the hash
chain, seals the batch with the epoch's sealing key and commits it in one transaction
(WAL, synchronous=FULL). Only then are the batch's tickets marked durable. The thread
also rolls epochs over (end seal, key evolution with erasure, new data key), sheds data
when the disk is nearly full and enforces retention, all inside transactions so a crash
at any instant leaves a store that verifies.

The writer holds only public keys (the recipients) and the current epoch's keys.
"""

from __future__ import annotations

import collections
import errno
import functools
import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pyrage
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from controller.config import StoreConfig
from controller.errors import EdgewardenError
from controller.store import (
    budget,
    clock,
    database,
    media,
    retention,
    sealstate,
    shedding,
    shredding,
    space,
    tombstone,
)
from controller.store.chain_fold import ChainPosition, EpochWriteKeys, end_seal, fold_batch
from controller.store.checkpoint_file import CheckpointPublisher
from controller.store.epoch_phase import Phase, Step, after
from controller.store.keyschedule import seal_key
from controller.store.layout import StoreLayout, read_manifest
from controller.store.lock import StoreLock
from controller.store.records import (
    PROTECTED_KINDS,
    MediaRef,
    check_header_fields,
    encode_body,
)
from controller.store.reserve import FLOOR, Reserve
from controller.store.sealing import Seal

log = logging.getLogger(__name__)
MB = 1 << 20
_DROP_AUDIT_INTERVAL_S = 60.0
_ORPHAN_GRACE_S = 3600.0  # a younger unreferenced media file may have its record in flight
_ROLL_RETRY_MAX_S = 5.0  # a failed rollover is retried after 1, 2, 4, 5, 5, ... s


_BUDGET_INTERVAL_S = 5.0  # at most one media-budget check per this many seconds


class RecordNotStored(EdgewardenError):
    """A record was dropped (no space, queue full, or a failed commit)."""


#: told, on the writer thread once a record's batch is done, the record's sequence number
#: (durable) or None (not stored); must be quick and must not append to the writer
Stored = Callable[[int | None], None]


class _Completion:
    """Shared by all tickets of one batch: set once the batch is committed (or failed)."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()


class Ticket:
    """The caller's handle on one appended record."""

    __slots__ = ("_completion", "error", "seq")

    def __init__(self, completion: _Completion) -> None:
        self._completion = completion
        self.seq: int | None = None
        self.error: str | None = None

    @property
    def durable(self) -> bool:
        return self._completion.event.is_set() and self.error is None

    def wait_durable(self, timeout: float | None = None) -> bool:
        """True once the record survives power loss; False on timeout; raises if dropped."""
        if not self._completion.event.wait(timeout):
            return False
        if self.error is not None:
            raise RecordNotStored(self.error)
        return True


@dataclass(slots=True)
class _Item:
    kind: str
    source: str
    severity: str
    plain: bytes
    media: tuple[MediaRef, ...]
    t_wall: float
    ticket: Ticket | None
    on_stored: Stored | None = None


@dataclass
class WriterStats:
    """Counters for status screens: nothing the store drops is silent."""

    committed: int = 0
    batches: int = 0
    dropped_no_space: int = 0
    dropped_queue_full: int = 0
    failed_commits: int = 0
    shed_media_files: int = 0
    shed_readings: int = 0
    epoch: int = 0
    pending: int = 0
    # every record refused or lost by the writer (dropped for space, queue full, failed)
    not_stored: int = 0
    # "ok", "full" (only alarms and audit stored) or "failing"; `failure` says why
    state: str = "ok"
    failure: str | None = None
    failing_since: float | None = None
    reserve_bytes: int = 0

    def failed(self, reason: str, now: float) -> None:
        if self.state != "failing":
            self.failing_since = now
        self.state, self.failure = "failing", reason

    def stored(self, full: bool) -> None:
        self.state = "full" if full else "ok"
        self.failure = "disk full: only alarm and audit records are stored" if full else None
        self.failing_since = None


@dataclass(frozen=True)
class RetentionReport:
    expired: dict[str, int] = field(default_factory=dict)
    shredded_epochs: tuple[int, ...] = ()
    media_deleted: int = 0
    orphan_media_deleted: int = 0


@dataclass
class _Job:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


def _default_free_space(path: Path) -> Callable[[], int]:
    return lambda: shutil.disk_usage(path).free


def _boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


class RecordWriter:
    """Appends records durably; see the module docstring. Use `RecordWriter.open`."""

    def __init__(
        self,
        layout: StoreLayout,
        cfg: StoreConfig,
        conn: sqlite3.Connection,
        store_id: bytes,
        recipients: list[pyrage.x25519.Recipient],
        *,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
        free_space: Callable[[], int],
        clock_synced: Callable[[], bool],
        lock: StoreLock | None = None,
        own_lock: bool = False,
    ) -> None:
        self.layout = layout
        self._lock = lock
        self._own_lock = own_lock
        self._reserve = Reserve(layout.reserve, cfg.reserved_space_mb * MB)
        self.cfg = cfg
        self._conn = conn
        self._store_id = store_id
        self._recipients = recipients
        self._wall = wall
        self._monotonic = monotonic
        self._free_space = free_space
        self._clock_synced = clock_synced
        self._boot_id = clock.boot_id()
        self._synced = clock_synced()
        self._synced_checked = monotonic()
        self.stats = WriterStats()
        self.checkpoints = CheckpointPublisher(layout, store_id.hex(), None)
        # writer-thread state
        self._state = sealstate.load(layout.seal_state)
        self._phase = Phase.OPEN
        self._roll_failures = 0
        self._failure_logged: str | None = None
        self._failure_logged_at = 0.0
        self._failures_unlogged = 0
        self._roll_retry_at = 0.0
        # the open epoch's keys (no data key while the previous writer's epoch is closed)
        self._keys: EpochWriteKeys | None = None
        self._epoch_started = 0.0
        self._pos = ChainPosition.genesis(store_id)
        self._dropped_unreported: dict[str, int] = {}
        self._last_drop_audit = -_DROP_AUDIT_INTERVAL_S
        # shared with callers
        self._cond = threading.Condition()
        # the batch being filled (sharing `_current`), then full batches waiting to commit;
        # one batch is one transaction of at most batch_max_records records
        self._pending: list[_Item] = []
        self._current = _Completion()
        self._full: collections.deque[tuple[_Completion, list[_Item]]] = collections.deque()
        self._queued = 0
        self._inflight: _Completion | None = None
        self._jobs: list[_Job] = []
        self._flush_requested = False
        self._stopping = False
        self._closed = False
        self._thread: threading.Thread | None = None
        # per-camera media budgets in MB (the service sets them from the camera configs)
        self.source_media_budgets_mb: dict[str, float] = {}
        self._budget_checked = -_BUDGET_INTERVAL_S
        self._media_written = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        data_dir: Path | str,
        cfg: StoreConfig,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = _boottime,
        free_space: Callable[[], int] | None = None,
        clock_synced: Callable[[], bool] = clock.clock_synced,
        lock: StoreLock | None = None,
        command: str = "store",
    ) -> RecordWriter:
        """Open the store for writing: recover after a crash, start a fresh epoch.

        The data directory's writer lock is taken first (or `lock`, already held by the
        caller, is used), so a second writer is refused before it touches anything.
        """
        layout = StoreLayout(Path(data_dir))
        manifest = read_manifest(layout)
        own_lock = lock is None
        if lock is None:
            lock = StoreLock.acquire(layout.data_dir, command)
        try:
            store_id = bytes.fromhex(manifest["store_id"])
            recipients = [pyrage.x25519.Recipient.from_str(r) for r in manifest["recipients"]]
            conn = database.connect(layout.database)
        except BaseException:
            if own_lock:
                lock.release()
            raise
        try:
            writer = cls(
                layout, cfg, conn, store_id, recipients,
                wall=wall, monotonic=monotonic,
                free_space=free_space or _default_free_space(layout.data_dir),
                clock_synced=clock_synced, lock=lock, own_lock=own_lock,
            )
            writer._reserve.fill(writer._free_space())
            writer._recover()
            writer.checkpoints = CheckpointPublisher.for_store(layout, manifest["store_id"])
            writer.checkpoints.publish_latest(conn)
            writer._with_space(writer._roll)
            removed = writer._remove_orphans(grace_s=0.0)  # nothing is in flight yet
            if removed:
                with writer._cond:
                    writer._enqueue(writer._audit_item(removed))
        except BaseException as exc:
            conn.close()
            if own_lock:
                lock.release()
            if isinstance(exc, (sqlite3.Error, OSError)):
                raise EdgewardenError(
                    f"{layout.data_dir}: cannot open the record store for writing: "
                    f"{_reason(exc)}") from None
            raise
        writer._thread = threading.Thread(target=writer._run, name="store-writer", daemon=True)
        writer._thread.start()
        return writer

    def _recover(self) -> None:
        """Bring the chain head, seals and key state in line after a stop or crash."""
        media.remove_partial(self.layout)
        c = self._conn
        row = c.execute(
            "SELECT seal_no, epoch, kind, last_seq, last_hash, mac FROM seals "
            "ORDER BY seal_no DESC LIMIT 1"
        ).fetchone()
        last_epoch_row = c.execute("SELECT MAX(epoch) FROM epochs").fetchone()[0]
        last_epoch = -1 if last_epoch_row is None else int(last_epoch_row)
        if row is not None:
            seal_no, _, _, last_seq, head, last_mac = row
            self._pos = ChainPosition(int(last_seq) + 1, bytes(head), int(seal_no),
                                      bytes(last_mac))
        max_seq = c.execute("SELECT MAX(seq) FROM records").fetchone()[0]
        if max_seq is not None and max_seq >= self._pos.next_seq:
            raise EdgewardenError(
                f"{self.layout.database}: records after the last seal (seq {self._pos.next_seq}.."
                f"{max_seq}); the store was altered, run `edgewarden verify`"
            )
        state = self._state
        if state.epoch == last_epoch:
            ended = c.execute(
                "SELECT 1 FROM seals WHERE epoch = ? AND kind = 'end'", (last_epoch,)
            ).fetchone()
            # the previous writer's epoch (its data key is gone): `_roll` closes it with
            # its own, still present, sealing key, or just evolves that key if it was sealed
            self._phase = Phase.OPEN if ended is None else Phase.ENDED
            self._keys = EpochWriteKeys(self._store_id, state.epoch, None, seal_key(state.key))
        elif state.epoch == last_epoch + 1:
            self._phase = Phase.EVOLVED
        else:
            raise EdgewardenError(
                f"{self.layout.seal_state}: sealing key is at epoch {state.epoch} but the "
                f"records end at epoch {last_epoch}; the store was altered or restored"
            )

    # ------------------------------------------------------------------ epochs
    # Each step changes the writer's state only after its write is durable (epoch_phase).
    def _write_end_seal(self) -> None:
        assert self._keys is not None and self._keys.epoch == self._state.epoch
        seal, pos = end_seal(self._keys, self._pos, now=self._wall())
        self._transaction(lambda c: self._insert_seals(c, [seal]))
        self.checkpoints.publish(seal)  # hook: signed head that can leave the device
        self._pos = pos
        self._keys = EpochWriteKeys(self._store_id, self._keys.epoch, None, self._keys.seal_key)
        self._phase = after(self._phase, Step.END_SEALED)

    def _evolve(self) -> None:
        evolved = self._state.evolved()
        sealstate.store(self.layout.seal_state, evolved)
        self._state, self._keys = evolved, None
        self._phase = after(self._phase, Step.KEY_EVOLVED)

    def _open_epoch(self) -> None:
        key = AESGCM.generate_key(bit_length=256)
        wrapped = pyrage.encrypt(key, self._recipients)
        epoch = self._state.epoch
        self._transaction(
            lambda c: c.execute(
                "INSERT INTO epochs (epoch, started_at, wrapped_key) VALUES (?, ?, ?)",
                (epoch, self._wall(), wrapped),
            )
        )
        self._keys = EpochWriteKeys(self._store_id, epoch, AESGCM(key),
                                    seal_key(self._state.key))
        self._epoch_started = self._monotonic()
        self.stats.epoch = epoch
        self._phase = after(self._phase, Step.EPOCH_OPENED)

    def _roll(self) -> None:
        """End the open epoch and open the next, or finish a rollover that failed midway."""
        if self._phase is Phase.OPEN:
            self._write_end_seal()
        if self._phase is Phase.ENDED:
            self._evolve()
        if self._phase is Phase.EVOLVED:
            self._open_epoch()

    def _finish(self) -> None:
        """At close: seal the open epoch and erase its sealing key (no new epoch)."""
        if self._phase is Phase.OPEN:
            self._write_end_seal()
        if self._phase is Phase.ENDED:
            self._evolve()

    def _roll_due(self) -> bool:
        if self._phase is not Phase.OPEN:
            return True
        return self._monotonic() - self._epoch_started >= self.cfg.epoch_seconds

    def _seconds_to_roll(self) -> float:
        now = self._monotonic()
        if self._phase is Phase.OPEN:
            at = max(self._epoch_started + self.cfg.epoch_seconds, self._roll_retry_at)
        else:
            at = self._roll_retry_at
        return at - now

    def _try_roll(self) -> bool:
        """Roll over if due; a failure is retried later at a bounded rate. True when open."""
        if not self._roll_due():
            return True
        if self._monotonic() < self._roll_retry_at:
            return False
        try:
            self._with_space(self._roll)
        except (sqlite3.Error, OSError, EdgewardenError) as exc:
            self._roll_failures += 1
            delay = min(_ROLL_RETRY_MAX_S, 2.0 ** (self._roll_failures - 1))
            self._roll_retry_at = self._monotonic() + delay
            reason = f"epoch rollover failed ({self._phase.value}): {_reason(exc)}"
            log.error("store %s; retrying in %.0f s", reason, delay)
            self.stats.failed_commits += 1
            self.stats.failed(reason, self._wall())
            return False
        self._roll_failures, self._roll_retry_at = 0, 0.0
        if self.stats.state == "failing":
            self.stats.stored(full=False)
        return True

    # ------------------------------------------------------------------ public API
    def append(
        self,
        kind: str,
        source: str,
        severity: str,
        body: dict[str, Any],
        media: Sequence[MediaRef] = (),
        t_wall: float | None = None,
        on_stored: Stored | None = None,
    ) -> Ticket:
        """Queue one record; the ticket says when it is durable. ValueError if malformed.

        `on_stored` is called with the record's sequence number once it is durable (None
        if it was not stored), so a live notice naming the record goes out only after it
        can no longer be lost; such a record is committed without waiting for the batch
        interval (alarms and events are few, their notices should not wait)."""
        check_header_fields(kind, source, severity)
        now_mono = self._monotonic()
        if now_mono - self._synced_checked > 10.0:
            self._synced = self._clock_synced()
            self._synced_checked = now_mono
        plain = encode_body(body, media, now_mono, self._boot_id, self._synced)
        item = _Item(kind, source, severity, plain, tuple(media) if media else (),
                     self._wall() if t_wall is None else float(t_wall), None, on_stored)
        with self._cond:
            if self._closed or self._stopping:
                raise EdgewardenError("the record store is closed")
            ticket = Ticket(self._current)
            item.ticket = ticket
            if self._queued >= self.cfg.max_pending_records and kind not in PROTECTED_KINDS:
                ticket.error = "record queue full"
                ticket._completion = _Completion()
                ticket._completion.event.set()
                self.stats.dropped_queue_full += 1
                self.stats.not_stored += 1
            else:
                self._enqueue(item)
                if on_stored is not None:
                    self._flush_requested = True
                    self._cond.notify()
        if ticket.error is not None and on_stored is not None:
            _tell(item)
        return ticket

    def _enqueue(self, item: _Item) -> None:
        """Add to the batch being filled (caller holds the lock)."""
        self._pending.append(item)
        self._queued += 1
        self.stats.pending = self._queued
        if len(self._pending) >= max(1, self.cfg.batch_max_records):
            self._full.append((self._current, self._pending))
            self._pending, self._current = [], _Completion()
            self._cond.notify()  # a full batch: commit now
        elif len(self._pending) == 1:
            self._cond.notify()  # start the commit timer

    def add_media(self, data: bytes, content_type: str) -> MediaRef:
        """Encrypt and store a media file durably; pass the ref to `append` afterwards."""
        reserved = self.cfg.reserved_space_mb * MB
        margin = self.cfg.shed_margin_mb * MB
        if not space.media_fits(self._fs_free(), len(data), reserved, margin):
            self._queue_internal_audit(
                {"action": "media-refused", "bytes": len(data), "reason": "low disk space"}
            )
            raise RecordNotStored(f"{self.layout.media_dir}: not enough free space for media")
        return media.write_media(self.layout, self._recipients, data, content_type)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything appended so far is durable (False on timeout)."""
        with self._cond:
            if self._pending:
                completion = self._current
                self._flush_requested = True
                self._cond.notify()
            elif self._full:
                completion = self._full[-1][0]
            elif self._inflight is not None:
                completion = self._inflight
            else:
                return True
        return completion.event.wait(timeout)

    def enforce_retention(self, now: float | None = None) -> RetentionReport:
        """Expire records per kind and crypto-shred whole expired epochs (in the writer)."""
        t = self._wall() if now is None else now
        result = self._run_job(lambda: self._retention(t))
        assert isinstance(result, RetentionReport)
        return result

    def close(self) -> None:
        """Commit what is queued, seal and close the epoch (erasing its sealing key)."""
        with self._cond:
            if self._closed:
                return
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
        try:
            self._with_space(self._finish)
        except (sqlite3.Error, OSError, EdgewardenError) as exc:
            # the next open closes the epoch from its records (as after a crash)
            raise EdgewardenError(
                f"{self.layout.data_dir}: the record store was not sealed at stop "
                f"({_reason(exc)}); the next start seals it") from None
        finally:
            self._closed = True
            self._keys = None
            lost = self._queued
            if lost:
                self.stats.not_stored += lost
            self._conn.close()
            if self._own_lock and self._lock is not None:
                self._lock.release()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RecordWriter({self.layout.data_dir}, epoch={self._state.epoch})"

    # ------------------------------------------------------------------ writer thread
    def _run_job(self, fn: Callable[[], Any]) -> Any:
        job = _Job(fn)
        with self._cond:
            if self._closed or self._stopping:
                raise EdgewardenError("the record store is closed")
            self._jobs.append(job)
            self._cond.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _queue_internal_audit(self, body: dict[str, Any]) -> None:
        item = self._audit_item(body)
        with self._cond:
            if not (self._closed or self._stopping):
                self._enqueue(item)
                self._cond.notify()

    def _audit_item(self, body: dict[str, Any], source: str = "store") -> _Item:
        plain = encode_body(body, (), self._monotonic(), self._boot_id, self._synced)
        return _Item("audit", source, "info", plain, (), self._wall(), None)

    def _tombstones(self, body: dict[str, Any], detail: dict[str, Any]) -> list[_Item]:
        """Hook: audit records that are also tombstones (readable by verify, chained)."""
        return [self._audit_item(body, tombstone.source_for(d))
                for d in tombstone.details(detail)]

    def _run(self) -> None:
        interval = self.cfg.commit_interval_ms / 1000.0
        last_commit = time.monotonic()
        while True:
            with self._cond:
                while True:
                    n = len(self._pending)
                    since = time.monotonic() - last_commit
                    due = bool(self._full) or (n > 0 and (
                        self._flush_requested or since >= interval or self._stopping
                    ))
                    roll_left = self._seconds_to_roll()
                    if due or self._jobs or roll_left <= 0 or (self._stopping and n == 0):
                        break
                    self._cond.wait(min(interval - since if n else 3600.0, max(roll_left, 0.05)))
                if self._full:
                    completion, items = self._full.popleft()
                else:
                    items, self._pending = self._pending, []
                    completion, self._current = self._current, _Completion()
                    self._flush_requested = False
                self._queued -= len(items)
                self._inflight = completion
                jobs, self._jobs = self._jobs, []
                stopping = self._stopping
                self.stats.pending = self._queued
            if items:
                self._commit_batch(items)
            elif not stopping:
                self._try_roll()
            with self._cond:
                self._inflight = None
            completion.event.set()
            for item in items:
                if item.on_stored is not None:
                    _tell(item)
            for job in jobs:
                try:
                    job.result = job.fn()
                except BaseException as exc:  # handed to the caller
                    job.error = exc
                job.done.set()
            last_commit = time.monotonic()
            if stopping:
                with self._cond:
                    if not self._pending and not self._full and not self._jobs:
                        return

    def _commit_batch(self, items: list[_Item]) -> None:
        if not self._try_roll():
            self._lose(items, f"store failing: {self.stats.failure}")
            return
        try:
            extra, accept_all = self._manage_space()
            keep: list[_Item] = []
            for item in items:
                if accept_all or item.kind in PROTECTED_KINDS:
                    keep.append(item)
                else:
                    self.stats.dropped_no_space += 1
                    self.stats.not_stored += 1
                    self._dropped_unreported[item.kind] = (
                        self._dropped_unreported.get(item.kind, 0) + 1
                    )
                    if item.ticket is not None:
                        item.ticket.error = "dropped: disk nearly full (reserve kept for alarms)"
            keep.extend(extra)
            keep.extend(self._drop_audit())
            self._with_space(lambda: self._write(keep))
            if any(item.media for item in keep):
                self._media_written = True
            shed = self._enforce_media_budget()
            if shed:
                self._with_space(lambda: self._write(shed))
        except (sqlite3.Error, OSError, EdgewardenError) as exc:
            reason = f"commit failed: {_reason(exc)}"
            self._log_failure(reason)
            self.stats.failed_commits += 1
            self.stats.failed(reason, self._wall())
            self._lose(items, f"store write failed: {_reason(exc)}")
            return
        self.stats.stored(full=not accept_all)

    def _log_failure(self, reason: str) -> None:
        """A failure is logged when it changes, then once a minute with a count (not once
        a batch: a full disk must not also fill the journal)."""
        now = self._monotonic()
        self._failures_unlogged += 1
        if reason != self._failure_logged or now - self._failure_logged_at >= 60.0:
            more = self._failures_unlogged - 1
            log.error("store %s%s", reason, f" ({more} more failed batches)" if more else "")
            self._failure_logged, self._failure_logged_at = reason, now
            self._failures_unlogged = 0

    def _lose(self, items: list[_Item], reason: str) -> None:
        """Fail the tickets of records that were not stored, and count every one."""
        for item in items:
            if item.ticket is not None and item.ticket.error is None:
                item.ticket.error = reason
                self.stats.not_stored += 1
            elif item.ticket is None:
                self.stats.not_stored += 1

    def _write(self, items: list[_Item]) -> None:
        """Encrypt, chain and seal `items` (chain_fold), then commit them in one
        transaction; the chain position moves only once the commit is durable."""
        keys = self._keys
        if keys is None or keys.aead is None or self._phase is not Phase.OPEN:
            raise EdgewardenError("no open epoch to write into")
        batch = fold_batch(keys, self._pos, items, now=self._wall(),
                           seal_every=self.cfg.seal_every_records)
        for item, row in zip(items, batch.records, strict=True):
            if item.ticket is not None:
                item.ticket.seq = row[0]

        def insert(c: sqlite3.Connection) -> None:
            database.insert_rows(c, "records", batch.records)
            database.insert_rows(c, "bodies", batch.bodies)
            if batch.media:
                c.executemany(
                    "INSERT INTO media (seq, sha256, size, t_wall) VALUES (?, ?, ?, ?)",
                    batch.media,
                )
            self._insert_seals(c, batch.seals)

        try:
            self._transaction(insert)
        except BaseException:
            for item in items:
                if item.ticket is not None:
                    item.ticket.seq = None
            raise
        if batch.seals:
            self.checkpoints.publish(batch.seals[-1])  # hook: signed head that can leave the device
        self._pos = batch.position
        self.stats.committed += len(batch.records)
        self.stats.batches += 1

    @staticmethod
    def _insert_seals(c: sqlite3.Connection, seals: Iterable[Seal]) -> None:
        c.executemany(
            "INSERT INTO seals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(s.seal_no, s.epoch, s.kind, s.last_seq, s.last_hash, s.t_wall, s.prev_mac, s.mac)
             for s in seals],
        )

    def _transaction(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            result = fn(c)
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        return result

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._transaction(lambda c: c.executemany(sql, rows))

    # ------------------------------------------------------------------ space
    def _fs_free(self) -> int:
        """Free bytes counting the reserve file as free: it is held for protected records."""
        return self._free_space() + self._reserve.held

    def _with_space(self, fn: Callable[[], Any]) -> Any:
        """Run a write; when the disk is full, give back part of the reserve and retry."""
        while True:
            try:
                return fn()
            except (sqlite3.Error, OSError) as exc:
                if not _disk_full(exc) or not self._reserve.release_chunk():
                    raise
                self.stats.reserve_bytes = self._reserve.held
                log.warning("disk full: released reserve space (%d bytes still held)",
                            self._reserve.held)

    def _db_free(self) -> int:
        return shedding.db_free(self._conn)

    def _plan(self) -> space.SpacePlan:
        return space.plan_space(
            self._fs_free(), self._db_free(), self.cfg.reserved_space_mb * MB,
            self.cfg.shed_margin_mb * MB, shedding.media_left(self._conn),
            reserve_intact=self._reserve.intact, floor=FLOOR,
        )

    def _manage_space(self) -> tuple[list[_Item], bool]:
        """Shed media, then old readings, when space is low. Returns the audit records of
        what was shed and whether unprotected kinds may still be written."""
        audits: list[_Item] = []
        self._reserve.fill(self._free_space())
        self.stats.reserve_bytes = self._reserve.held
        plan = self._plan()
        if plan.shed_media:
            audits.extend(self._shed_media())
            plan = self._plan()
        if plan.shed_readings:
            audits.extend(self._shed_readings())
            plan = self._plan()
        return audits, plan.accept_unprotected

    def _write_with_space(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._with_space(functools.partial(self._executemany, sql, rows))

    def _shed_target(self) -> int:
        return (self.cfg.reserved_space_mb + self.cfg.shed_margin_mb) * MB

    def _shed_media(self) -> list[_Item]:
        shed = shedding.shed_media(self._conn, self.layout, self._shed_target(),
                                   self._fs_free, self._write_with_space)
        if not shed.count:
            return []
        self.stats.shed_media_files += shed.count
        log.warning("disk nearly full: shed %d media files (%d bytes)", shed.count, shed.size)
        return self._tombstones({"action": "shed-media", "files": shed.count,
                                 "bytes": shed.size, "sha256": list(shed.hashes[:100]),
                                 "reason": "low disk space"},
                                {"why": "shed-media", "sha256": list(shed.hashes)})

    def _enforce_media_budget(self, force: bool = False) -> list[_Item]:
        """Shed the oldest media beyond store.media_budget_mb and the cameras' budgets."""
        total = int(self.cfg.media_budget_mb * MB)
        per_source = {k: int(v * MB) for k, v in self.source_media_budgets_mb.items() if v > 0}
        now = self._monotonic()
        if not (total or per_source) or not (force or self._media_written):
            return []
        if not force and now - self._budget_checked < _BUDGET_INTERVAL_S:
            return []
        self._budget_checked, self._media_written = now, False
        files: dict[str, budget.MediaFile] = {}
        for sha, t_wall, size, source in self._conn.execute(
            "SELECT m.sha256, m.t_wall, m.size, r.source FROM media m "
            "JOIN records r ON r.seq = m.seq WHERE m.state = 'stored' ORDER BY m.t_wall, m.seq"
        ):
            if sha not in files:
                files[sha] = budget.MediaFile(str(sha), float(t_wall), int(size), str(source))
        plan = budget.plan_shedding(list(files.values()), total, per_source)
        if not plan:
            return []
        for f in plan:
            shedding.delete_media_file(self.layout, f.sha256)
        self._executemany("UPDATE media SET state = 'shed' WHERE sha256 = ?",
                          [(f.sha256,) for f in plan])
        size = sum(f.size for f in plan)
        self.stats.shed_media_files += len(plan)
        log.info("media budget: shed %d oldest media files (%d bytes)", len(plan), size)
        return self._tombstones({
            "action": "shed-media", "files": len(plan), "bytes": size,
            "sha256": [f.sha256 for f in plan[:100]],
            "oldest": plan[0].t_wall, "newest": plan[-1].t_wall,
            "sources": sorted({f.source for f in plan}), "reason": "media budget",
        }, {"why": "shed-media", "sha256": [f.sha256 for f in plan]})

    def enforce_media_budget(self) -> int:
        """Apply the media budget now (in the writer); how many files were shed."""
        def job() -> int:
            before = self.stats.shed_media_files
            items = self._enforce_media_budget(force=True)
            if items:
                self._write(items)
            return self.stats.shed_media_files - before

        return int(self._run_job(job))

    def _shed_readings(self) -> list[_Item]:
        shed = shedding.shed_readings(self._conn, self._shed_target(),
                                      lambda: self._fs_free() + self._db_free(),
                                      self._write_with_space, self._with_space)
        if not shed.count:
            return []
        self.stats.shed_readings += shed.count
        log.warning("disk nearly full: shed %d old readings", shed.count)
        return self._tombstones({"action": "shed-readings", "records": shed.count,
                                 "first_seq": shed.first_seq, "last_seq": shed.last_seq,
                                 "reason": "low disk space"},
                                {"why": "shed-readings", "seqs": tombstone.ranges(shed.seqs)})

    def _drop_audit(self) -> list[_Item]:
        """One audit record per minute summarising records refused for lack of space."""
        items: list[_Item] = []
        now = self._monotonic()
        if self._dropped_unreported and now - self._last_drop_audit >= _DROP_AUDIT_INTERVAL_S:
            items.append(self._audit_item({"action": "dropped-records",
                                           "counts": dict(self._dropped_unreported),
                                           "reason": "low disk space"}))
            self._dropped_unreported = {}
            self._last_drop_audit = now
        return items

    # ------------------------------------------------------------------ retention
    def _remove_orphans(self, grace_s: float) -> dict[str, Any] | None:
        """Delete unreferenced media files (retention.remove_orphans); the audit body."""
        count, size = retention.remove_orphans(self._conn, self.layout, grace_s)
        if not count:
            return None
        log.warning("removed %d orphan media file(s) (%d bytes) no record references",
                    count, size)
        return {"action": "orphan-media-removed", "files": count, "bytes": size}

    def _retention(self, now: float) -> RetentionReport:
        # each tombstone is durable before anything goes (a crash leaves it, harmless)
        gone = retention.expire(
            self._conn, self.layout, now, self.cfg.retention_days, self._transaction,
            before=lambda cls, cutoff, count: self._write(self._tombstones(
                {"action": "retention-expire", "kind": cls, "records": count},
                {"why": "retention", "at": now, "cutoffs": {cls: cutoff}})))
        expired, media_deleted = gone.per_class, gone.media_deleted
        shredded = shredding.shred_epochs(
            self._conn, self._state.epoch, now, self._transaction,
            before=lambda epoch: self._write(self._tombstones(
                {"action": "retention-shred", "epoch": epoch},
                {"why": "retention", "at": now, "shredded": [epoch]})))
        orphaned = self._remove_orphans(grace_s=_ORPHAN_GRACE_S)
        orphans_deleted = orphaned["files"] if orphaned else 0
        report = RetentionReport(expired, tuple(shredded), media_deleted, orphans_deleted)
        if expired or shredded or orphaned:
            self._write([self._audit_item({
                "action": "retention", "expired": expired, "shredded_epochs": shredded,
                "media_deleted": media_deleted, "orphan_media_deleted": orphans_deleted,
            })])
        return report


def _tell(item: _Item) -> None:
    """Tell `on_stored` what became of the record; its failure is logged, never raised
    into the writer thread."""
    assert item.on_stored is not None
    ticket = item.ticket
    seq = ticket.seq if ticket is not None and ticket.error is None else None
    try:
        item.on_stored(seq)
    except Exception:
        log.exception("the listener of record %s failed", seq)


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


def _reason(exc: BaseException) -> str:
    """One line for a storage error (an OSError's strerror and file, never a traceback)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc) or type(exc).__name__
