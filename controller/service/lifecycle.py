"""`edgewarden run`: the one process that owns the device.

Wiring only: the serial link, anomaly rules, record store, health, cameras and the control
socket are separate parts; this module starts them on one asyncio loop, moves data between
them, and handles the systemd life cycle (READY, WATCHDOG, STATUS, RELOADING, STOPPING),
SIGTERM (flush and seal) and SIGHUP (reload; a bad new config is refused and the old one
keeps running).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from controller.anomaly.alarm import AlarmTransition
from controller.anomaly.desk import AlarmDesk, node_rules, with_defaults
from controller.anomaly.engine import AnomalyEngine
from controller.config import Config, load_config
from controller.control import schema
from controller.control.address import socket_path
from controller.control.schema import to_wire
from controller.control.server import AuditEntry, ControlServer
from controller.errors import EdgewardenError
from controller.plates.register import Register
from controller.plates.register_file import FILE_NAME as VEHICLES_FILE
from controller.sensors.keystore import KeyStore, KeystoreError
from controller.sensors.link_alarms import integrity_limits, link_rules, link_samples
from controller.sensors.stage import SensorStage
from controller.service import health, notices
from controller.service.handlers import ServiceHandlers, user_name
from controller.service.vehicles import VehicleRegister
from controller.store import RecordWriter, audit_inbox, state_auth
from controller.store.layout import StoreLayout, read_manifest
from controller.store.lock import StoreLock
from controller.store.reader import store_totals
from controller.store.writer import RecordNotStored, Stored, Ticket
from controller.system.sdnotify import Notifier, WatchdogPacer, watchdog_interval
from firmware_bridge.link import (
    ONLINE_STATES,
    KeyLookup,
    LinkManager,
    LinkObserver,
    NodeStats,
    PortSpec,
)
from firmware_bridge.messages import Heartbeat, Message
from firmware_bridge.reading import Reading
from firmware_bridge.reasons import RejectReason
from firmware_bridge.reject_summary import RejectSummary

if TYPE_CHECKING:  # cameras pull in OpenCV and NumPy: imported only when configured
    from controller.camera.reconnect import CameraStatus
    from controller.detect.events import DetectionEvent
    from controller.detect.worker import CameraWorker
    from controller.service.camera_records import CameraRecords
    from controller.service.plate_records import ReaderLoader

log = logging.getLogger("service")

VERSION = "0.1.0"
TICK_S = 1.0
RETENTION_EVERY_S = 3600.0


class _LinkEvents(LinkObserver):
    """Heartbeats feed the missing-data rules; rejects are summarised into `link` records."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def on_message(self, port: str, uid: str, message: Message) -> None:
        if isinstance(message, Heartbeat):
            self._service.on_heartbeat(uid, port)

    def on_reject(self, port: str, uid: str | None, reason: RejectReason) -> None:
        log.debug("rejected frame on %s from %s: %s", port, uid or "?", reason)
        self._service.rejects.add(port, uid, reason, time.time())


class Service:
    """The running service; `run()` returns when stopped."""

    def __init__(
        self,
        cfg: Config,
        config_path: Path | None = None,
        *,
        port_specs: list[PortSpec] | None = None,
        key_lookup: KeyLookup | None = None,
        notifier: Notifier | None = None,
        health_reader: health.HealthReader | None = None,
        plate_reader: ReaderLoader | None = None,
    ) -> None:
        """`plate_reader` makes a plate camera's reader (default: the shipped OCR models);
        it runs on that camera's plate thread, never on the loop."""
        self.cfg = cfg
        self._plate_reader = plate_reader
        self.config_path = config_path
        self._fixed_ports = port_specs
        self.keystore = KeyStore(cfg.serial.keys_dir)
        self._key_lookup = key_lookup or self.keystore.key_lookup
        self.notifier = notifier or Notifier.from_environ()
        self._health_reader = health_reader or health.HealthReader(cfg.device.data_dir)
        self.started_wall = time.time()
        self.started_mono = time.monotonic()
        self.state = "starting"
        self.writer: RecordWriter | None = None
        self.store_lock: StoreLock | None = None
        self.link: LinkManager | None = None
        self.desk: AlarmDesk | None = None
        self.vehicles: VehicleRegister | None = None
        self.server: ControlServer | None = None
        self.forwarder: schema.Forwarder | None = None  # the MQTT forwarder's last report
        self.cameras: list[CameraWorker] = []
        self.camera_records: CameraRecords | None = None
        self._media_usage: tuple[float, dict[str, int]] = (float("-inf"), {})
        self.sensors = SensorStage(cfg.store.downsample_s)
        self.last_health: health.HealthSample | None = None
        self.records_not_stored = 0
        self._store_seen: tuple[str, str | None, int] = ("ok", None, 0)
        self.rejects = RejectSummary(max(1.0, cfg.serial.reject_summary_s))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._link_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._vk_fingerprint: str | None = None
        self._keys_stamp: int | None = -1  # key registry mtime; -1 = not looked at yet
        self.reload_count = 0
        self.last_reload_error: str | None = None

    # ================================================================== life cycle
    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, seconds: float | None = None, ready: Callable[[], None] | None = None,
                  ) -> None:
        """Serve until SIGTERM/SIGINT, `request_stop()`, or `seconds` have passed."""
        self._loop = asyncio.get_running_loop()
        self._start_parts()
        assert self.writer is not None
        try:
            self.server = ControlServer.from_config(self.cfg, ServiceHandlers(self), self._audit)
            await self.server.start()
            self._install_signals()
            self._start_link()
            self._start_cameras()
            self._tasks += [
                asyncio.create_task(self._consume_readings(), name="readings"),
                asyncio.create_task(self._tick(), name="tick"),
                asyncio.create_task(self._health_loop(), name="health"),
            ]
            self.state = "running"
            self.audit_event("service.start", {"version": VERSION, "pid": os.getpid()})
            self.notifier.ready(status=self._status_line())
            log.info("serving: %d node port(s), %d camera(s), control socket %s",
                     len(self._ports()), len(self.cameras), self.server.path)
            if ready is not None:
                ready()
            await self._main_loop(seconds)
        finally:
            await self._shutdown()

    async def _main_loop(self, seconds: float | None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        interval = watchdog_interval(os.environ, os.getpid())
        pacer = WatchdogPacer(interval) if interval else None
        while not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if self._reload.is_set():
                self._reload.clear()
                await self._do_reload()
            if pacer is not None and pacer.due(now):
                self.notifier.watchdog()
                pacer.pinged(now)
            waits = [1.0]
            if pacer is not None:
                waits.append(pacer.seconds_until_due(now) or 0.0)
            if deadline is not None:
                waits.append(deadline - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.01, min(waits)))

    def _start_parts(self) -> None:
        cfg = self.cfg
        # one writer per data directory: refused here, before the store or the control
        # socket of a running service is touched
        self.store_lock = StoreLock.acquire(cfg.device.data_dir, "run",
                                            runtime_dir=cfg.device.runtime_dir,
                                            control_socket=socket_path(cfg))
        try:
            self.writer = RecordWriter.open(cfg.device.data_dir, cfg.store, lock=self.store_lock)
        except BaseException:
            self.store_lock.release()
            self.store_lock = None
            raise
        manifest = read_manifest(self.writer.layout)
        self._vk_fingerprint = str(manifest.get("verification_key_fingerprint") or "") or None
        self.desk = self._make_desk(cfg)
        self.vehicles = VehicleRegister(Path(cfg.device.data_dir) / VEHICLES_FILE,
                                        self.audit_event)

    def _make_desk(self, cfg: Config) -> AlarmDesk:
        nodes = [n.name for n in cfg.serial.nodes]
        defaults = {**health.suggested_rules(cfg.health, [c.name for c in cfg.cameras]),
                    **node_rules(nodes, cfg.serial.missing_s),
                    **health.store_fault_rules(),
                    **link_rules(cfg.serial, self._node_names(cfg))}
        if cfg.cameras:  # OpenCV and NumPy only when cameras are configured
            from controller.camera.tamper_rules import tamper_rules

            defaults.update(tamper_rules(cfg.cameras))
            from controller.service.plate_records import plate_rules

            defaults.update(plate_rules(cfg.cameras))
        anomaly = with_defaults(cfg.anomaly, defaults)
        state_file = Path(cfg.device.data_dir) / "anomaly-state.json"
        trusted = self._anomaly_state_trusted(state_file)
        return AlarmDesk(AnomalyEngine(anomaly), self.record, self._notify_alarm, state_file,
                         nodes=nodes, node_detail=self._node_port_state,
                         attest=self._attest_anomaly_state, trusted=trusted)

    def _anomaly_state_trusted(self, state_file: Path) -> bool:
        """Hook (store/state_auth): use the saved state only when the chain vouches for it."""
        if self.writer is None:
            return False
        verdict = state_auth.judge_file(self.writer.layout.database, state_file)
        if verdict.problem is not None:
            log.error("%s; not used, learning anew", verdict.problem)
            self.record("alarm", "store/anomaly-state", "critical",
                        {"rule": "state_not_authentic", "file": str(state_file),
                         "problem": verdict.problem})
        return verdict.trusted

    def _attest_anomaly_state(self, data: bytes) -> bool:
        """Record the digest of a state about to be saved; True once it is durable."""
        ticket = self.record("audit", state_auth.source_for(data), "info",
                             {"action": "anomaly-state.saved", "bytes": len(data)})
        if not isinstance(ticket, Ticket):
            return False
        try:
            return ticket.wait_durable(5.0)
        except RecordNotStored:
            return False

    def _node_names(self, cfg: Config) -> set[str]:
        """Every name a node may have in readings: configured, fixed or registered."""
        names = {n.name for n in cfg.serial.nodes if n.name}
        names |= {p.name for p in self._fixed_ports or [] if p.name}
        with contextlib.suppress(Exception):  # an unreadable registry is reported elsewhere
            names |= {rec.name or uid for uid, rec in KeyStore(cfg.serial.keys_dir)
                      .nodes().items()}
        return names

    def _ports(self) -> list[PortSpec]:
        if self._fixed_ports is not None:
            return self._fixed_ports
        return [PortSpec(n.port, n.name, n.baudrate, n.max_frames_per_second)
                for n in self.cfg.serial.nodes]

    def _start_link(self) -> None:
        s = self.cfg.serial
        self.link = LinkManager(self._ports(), self._key_lookup, s.queue_size,
                                s.reopen_backoff_max_s, s.heartbeat_timeout_s, _LinkEvents(self),
                                limits=integrity_limits(s))
        self._link_task = asyncio.create_task(self.link.run(), name="link")

    async def _stop_link(self) -> None:
        if self.link is not None:
            self.link.stop()
        if self._link_task is not None:
            self._link_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._link_task
        self._link_task = None

    def _start_cameras(self) -> None:
        if not self.cfg.cameras:
            return
        from controller.detect.worker import CameraWorker
        from controller.service import plate_records as pr
        from controller.service.camera_records import CameraRecords

        assert self.writer is not None
        if self.camera_records is None:
            self.camera_records = CameraRecords(self.writer, self._publish_threadsafe,
                                                self._count_not_stored)
        self.writer.source_media_budgets_mb = {c.name: c.media_budget_mb
                                               for c in self.cfg.cameras}
        loop = asyncio.get_running_loop()
        plates = pr.PlateRecords(self.writer, self._vehicle_snapshot, pr.desk_alarm(
            loop, lambda: self.desk), self._count_not_stored,
            publish=self._publish_threadsafe)
        plate_channel = pr.desk_channel(loop, lambda: self.desk)
        site_formats = self.cfg.plate_formats
        load = self._plate_reader or (lambda cam: pr.shipped_reader(cam, site_formats))
        for cam in self.cfg.cameras:
            # the stage loads its OCR models on its own thread: the loop goes on serving
            worker = CameraWorker(cam, self.cfg.detect, self._on_camera_event,
                                  self._on_camera_status, segment_store=self.camera_records,
                                  on_live=self.camera_records.on_live,
                                  on_tamper=self._on_camera_tamper,
                                  observer=pr.camera_plate_stage(cam, plates, plate_channel,
                                                                 load))
            self.cameras.append(worker)
            worker.start()

    def _stop_cameras(self) -> None:
        for worker in self.cameras:
            worker.stop()
        self.cameras = []

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_stop)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self._reload.set)

    async def _shutdown(self) -> None:
        self.state = "stopping"
        self.notifier.stopping(status="flushing and sealing")
        log.info("stopping: flushing and sealing")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        await self._stop_link()
        self._store_reject_summaries(force=True)
        await asyncio.to_thread(self._stop_cameras)
        if self.server is not None:
            await self.server.close()
        if self.desk is not None:
            try:
                self.desk.save()
            except OSError as exc:
                log.error("cannot save learned anomaly state: %s", exc)
        if self.writer is not None:
            with contextlib.suppress(EdgewardenError):
                self.audit_event("service.stop", {"pid": os.getpid()})
            try:
                await asyncio.to_thread(self.writer.close)
            finally:
                if self.store_lock is not None:
                    self.store_lock.release()
        self.state = "stopped"
        self.notifier.close()

    # ================================================================== reload
    async def _do_reload(self) -> None:
        self.refresh_keys()  # `edgewarden pair` then SIGHUP: the new key is taken
        if self.config_path is None:
            log.warning("SIGHUP: no config file to reload (started without --config)")
            return
        self.notifier.reloading()
        try:
            new = load_config(self.config_path)
            desk = self._make_desk(new)  # validates the rules before anything changes
        except EdgewardenError as exc:
            self.last_reload_error = str(exc)
            log.error("reload refused, keeping the running config: %s", exc)
            self.audit_event("config.reload", {"outcome": "refused", "reason": str(exc)})
            self.notifier.ready(status=self._status_line())
            return
        await self.apply_config(new, desk)
        self.notifier.ready(status=self._status_line())

    async def apply_config(self, new: Config, desk: AlarmDesk | None = None) -> None:
        """Switch to a validated config: rules, nodes and cameras follow it at once."""
        old = self.cfg
        if desk is None:
            desk = self._make_desk(new)
        if self.desk is not None:
            desk.engine.load_state(self.desk.engine.save_state())
        self.desk = desk
        self.cfg = new
        self.sensors.configure(new.store.downsample_s)
        if new.serial != old.serial and self._fixed_ports is None:
            await self._stop_link()
            self._start_link()
        if new.cameras != old.cameras or new.detect != old.detect \
                or new.plate_formats != old.plate_formats:
            await asyncio.to_thread(self._stop_cameras)
            self._start_cameras()
        if new.store != old.store or new.device != old.device or new.control != old.control:
            log.warning("store, device and control settings take effect at the next restart")
        self.reload_count += 1
        self.last_reload_error = None
        self.audit_event("config.reload", {"outcome": "applied"})
        log.info("config reloaded")

    # ================================================================== control surface
    # What `ServiceHandlers` may use (`ControlledService` lists exactly these).
    def report_forwarder(self, report: schema.Forwarder) -> None:
        """The MQTT forwarder's last report, kept (not recorded) for status."""
        self.forwarder = report

    def store_layout(self) -> StoreLayout | None:
        return self.writer.layout if self.writer is not None else None

    def flush_store(self, timeout_s: float) -> bool:
        """Wait until what was queued is committed; False if the store is not open."""
        if self.writer is None:
            return False
        self.writer.flush(timeout_s)
        return True

    def link_running(self) -> bool:
        return self.link is not None

    def node_stats(self) -> list[NodeStats]:
        return self.link.node_stats() if self.link is not None else []

    def send_to_node(self, uid: str, message: Message) -> bool:
        return self.link is not None and self.link.send(uid, message)

    def set_sample_rate(self, uid: str, hz: float) -> None:
        self.sensors.set_sample_rate(uid, hz)

    def ports_in_use(self) -> set[str]:
        """The ports the link reads (a pairing there must borrow the port)."""
        return {p.path for p in self._ports()}

    def lend_port(self, path: str) -> bool:
        """Close a link port for a pairing; False if the link does not read it."""
        return self.link is not None and self.link.hold_port(path)

    def return_port(self, path: str) -> None:
        if self.link is not None:
            self.link.give_back_port(path)

    def paired_keys(self) -> KeyStore:
        return self.keystore

    # ================================================================== data paths
    def record(self, kind: str, source: str, severity: str, body: dict[str, Any],
               on_stored: Stored | None = None) -> object:
        """Append a record; a full or closed store is counted, never raised into the loop.

        `on_stored` hears the record's sequence number once durable, None if not stored."""
        if self.writer is None:
            self.records_not_stored += 1
            if on_stored is not None:
                on_stored(None)
            return None
        try:
            return self.writer.append(kind, source, severity, body, on_stored=on_stored)
        except (EdgewardenError, ValueError) as exc:
            self.records_not_stored += 1
            log.error("record not stored (%s %s): %s", kind, source, exc)
            if on_stored is not None:
                on_stored(None)
            return None

    def audit_event(self, action: str, detail: dict[str, Any]) -> None:
        self.record("audit", "service", "info", {"action": action, **detail})

    def publish(self, kind: str, data: Any) -> None:
        if self.server is not None:
            self.server.publish(kind, data)

    def _audit(self, entry: AuditEntry) -> None:
        self.record("audit", f"uid:{entry.uid}", "info" if entry.outcome == "ok" else "warning", {
            "action": entry.cmd, "cmd": entry.cmd, "ok": entry.outcome == "ok",
            "user": user_name(entry.uid), "uid": entry.uid, "gid": entry.gid, "pid": entry.pid,
            "role": entry.role, "outcome": entry.outcome, "reason": entry.reason,
            "about": entry.about, "detail": entry.summary(),
        })

    async def _consume_readings(self) -> None:
        while True:
            assert self.link is not None
            reading = await self.link.readings.get()
            self.on_reading(reading)

    def on_reading(self, r: Reading) -> None:
        key = f"{r.node_name}/{r.channel}"
        if self.sensors.take(r):
            self.record("reading", r.node_name, "info", r.to_json())
        assert self.desk is not None
        self.desk.observe(key, r.received_wall, r.value)
        self.publish("reading", to_wire(notices.reading_notice(r)))

    def on_heartbeat(self, uid: str, port: str = "") -> None:
        if self.desk is None:
            return
        now = time.time()
        name = self.sensors.node_name(uid)
        if name is None and self.link is not None:
            name = next((n.name for n in self.link.node_stats() if n.uid == uid), None)
            if name is not None:
                self.sensors.remember_name(uid, name)
        self.desk.heartbeat(name or uid, now)
        configured = next((n.name for n in self.cfg.serial.nodes if n.port == port), None)
        if configured is not None and configured != name:  # registry and config disagree
            self.desk.heartbeat(configured, now)

    def _watch_key_store(self) -> None:
        """A node paired or re-keyed while the service runs is taken at once (the key
        store's registry changed), without a restart or SIGHUP."""
        try:
            stamp = self.keystore.registry_path.stat().st_mtime_ns
        except OSError:
            stamp = None
        if stamp != self._keys_stamp:
            first = self._keys_stamp == -1
            self._keys_stamp = stamp
            if not first:
                self.refresh_keys()

    def refresh_keys(self) -> None:
        if self.link is not None:
            for uid in self.link.refresh_keys():
                self.sensors.forget_name(uid)

    async def _tick(self) -> None:
        last_status = last_inbox = 0.0
        last_save = time.monotonic()
        next_retention = last_save + 60.0
        while True:
            await asyncio.sleep(TICK_S)
            assert self.desk is not None
            self.desk.tick(time.time())
            self.watch_store()
            self._watch_key_store()
            self._observe_link()
            now = time.monotonic()
            if now - last_inbox >= 2.0:
                await asyncio.to_thread(self.store_inbox_audits)
                last_inbox = now
            if now >= next_retention:
                await self._enforce_retention()
                next_retention = now + RETENTION_EVERY_S
            if now - last_status >= 10.0:
                self.notifier.status(self._status_line())
                last_status = now
            if now - last_save >= 300.0:
                await asyncio.to_thread(self.desk.save)
                last_save = now

    async def _enforce_retention(self) -> None:
        """Expire records per kind, shred old epochs and remove orphan media (hourly)."""
        if self.writer is None:
            return
        try:
            report = await asyncio.to_thread(self.writer.enforce_retention)
        except Exception as exc:  # retention must never take the service down
            log.error("retention not enforced: %s", exc)
            return
        if report.expired or report.shredded_epochs or report.orphan_media_deleted:
            log.info("retention: expired %s, shredded epochs %s, %d orphan media removed",
                     report.expired, list(report.shredded_epochs),
                     report.orphan_media_deleted)

    def store_inbox_audits(self) -> None:
        """Store the audits a CLI export left beside the running service (one writer)."""
        if self.writer is None:
            return
        for path, body in audit_inbox.waiting(self.writer.layout.data_dir):
            try:
                ticket = self.writer.append("audit", "export", "info", body)
                if ticket.wait_durable(10):
                    path.unlink()
            except (EdgewardenError, ValueError, OSError) as exc:
                log.error("%s: audit not stored yet: %s", path, exc)
                return

    def watch_store(self) -> None:
        """Every second: a store that fails or is full is an alarm and a live event."""
        if self.writer is None or self.desk is None:
            return
        ws = self.writer.stats
        self.desk.observe(health.STORE_FAULT_CHANNEL, time.time(),
                          health.STORE_FAULT_LEVEL.get(ws.state, 2.0))
        seen = (ws.state, ws.failure, self.not_stored())
        if seen == self._store_seen:
            return
        if seen[:2] != self._store_seen[:2]:
            if ws.state == "ok":
                log.warning("record store storing again")
            else:
                log.error("record store %s: %s", ws.state, ws.failure)
        self._store_seen = seen
        # the dashboard's store panel follows this event (health events carry the store)
        self._publish_health(None, with_nodes=False)

    def _observe_link(self) -> None:
        """Link integrity becomes `link/...` alarm channels; refusals become records."""
        if self.link is not None and self.desk is not None:
            t = time.time()
            for key, value in link_samples(self.link.node_stats()):
                self.desk.observe(key, t, value)
        self._store_reject_summaries()

    def _store_reject_summaries(self, force: bool = False) -> None:
        for body in self.rejects.due(time.time(), force=force):
            self.record("link", body["port"], "warning", body)

    async def _health_loop(self) -> None:
        hc = self.cfg.health
        while True:
            try:
                sample = await asyncio.to_thread(self._health_reader.read, time.time())
            except Exception as exc:  # health must never take the service down
                log.warning("health sample failed: %s", exc)
            else:
                self.on_health(sample)
            await asyncio.sleep(max(0.5, hc.interval_s))

    def on_health(self, sample: health.HealthSample) -> None:
        rec = health.sample_to_record(sample)
        self.last_health = sample
        self.record("health", "device", "info", rec)
        assert self.desk is not None
        for channel, value in health.sample_to_channels(sample).items():
            self.desk.observe(channel, sample.time, value)
        # the dashboard's device, store, link and camera plate panels follow this event
        self._publish_health(sample, with_nodes=True)
        path = self.cfg.health.textfile_path
        if path is not None:
            try:
                health.write_textfile(Path(path), health.render_metrics(
                    health.health_metrics(sample) + self._service_metrics()))
            except OSError as exc:
                log.warning("%s: cannot write metrics textfile: %s", path, exc)

    def _publish_health(self, sample: health.HealthSample | None, with_nodes: bool) -> None:
        """The health notice: the sample (None: only the store changed), the store, and
        with a sample the nodes and each plate camera's OCR state and reads."""
        plates = {w.cfg.name: msgspec.convert(p, schema.Plates) for w in self.cameras
                  if (p := w.status["plates"]) is not None} if with_nodes else {}
        self.publish("health", to_wire(schema.HealthNotice(
            health=sample, store=self._store_status(),
            nodes=self._nodes_status() if with_nodes else None, plates=plates or None)))

    def _notify_alarm(self, tr: AlarmTransition, detail: dict[str, Any] | None,
                      seq: int | None) -> None:
        """An alarm transition whose record is durable (or lost): tell subscribers."""
        self._publish_threadsafe("alarm", to_wire(notices.alarm_notice(tr, detail, seq)))

    def _service_metrics(self) -> list[health.Metric]:
        stats = self.writer.stats if self.writer else None
        m = [
            health.Metric("edgewarden_records_committed_total", "records durably stored",
                          "counter", [({}, float(stats.committed if stats else 0))]),
            health.Metric("edgewarden_records_not_stored_total",
                          "records the service could not store", "counter",
                          [({}, float(self.not_stored()))]),
            health.Metric("edgewarden_readings_dropped_total",
                          "readings dropped by a full link queue", "counter",
                          [({}, float(self.link.dropped if self.link else 0))]),
            health.Metric("edgewarden_alarms_active", "alarms not normal", "gauge",
                          [({}, float(len(self.desk.points()) if self.desk else 0))]),
        ]
        return m

    # ================================================================== cameras
    def _on_camera_event(self, event: DetectionEvent) -> None:
        """Called on a camera thread: media are encrypted there, the record queued."""
        assert self.camera_records is not None
        self.camera_records.on_event(event)

    def _publish_threadsafe(self, kind: str, data: dict[str, Any]) -> None:
        if self._loop is not None:
            # a record made durable by the last flush at shutdown: the loop may be gone
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.publish, kind, data)

    def _vehicle_snapshot(self) -> Register:
        return self.vehicles.snapshot() if self.vehicles is not None else Register()

    def _count_not_stored(self) -> None:
        self.records_not_stored += 1  # an int increment: atomic enough under the GIL

    def _on_camera_tamper(self, camera: str, faults: dict[str, bool], t: float) -> None:
        """Called on a camera thread: each tamper fault is a channel the desk alarms on."""
        if self._loop is None:
            return

        def observe() -> None:
            if self.desk is not None:
                for fault, raised in faults.items():
                    self.desk.observe(f"camera/{camera}/tamper/{fault}", t,
                                      1.0 if raised else 0.0)

        self._loop.call_soon_threadsafe(observe)

    def _on_camera_status(self, status: CameraStatus) -> None:
        """Camera up/down becomes a health channel the anomaly rules alarm on."""
        if self._loop is None:
            return
        value = 1.0 if status.down else 0.0
        channel = f"camera/{status.name}/down"

        def observe() -> None:
            if self.desk is not None:
                self.desk.observe(channel, time.time(), value)

        self._loop.call_soon_threadsafe(observe)

    # ================================================================== status
    # Status is assembled as the schema's Structs (controller.control.schema): what the
    # service builds itself is constructed field by field; what a lower layer hands over
    # as data (a camera's status, an alarm view, the checkpoint) is converted, so a shape
    # the schema does not name fails here, in the service, not in a client.
    def _cameras_status(self) -> list[schema.Camera]:
        """Each camera's status plus its media: bytes stored, rate, days the budget holds."""
        media = self._cameras_media()
        return [msgspec.convert({**w.status, **({"media": media[w.cfg.name]}
                                                 if w.cfg.name in media else {})},
                                schema.Camera)
                for w in self.cameras]

    def _cameras_media(self) -> dict[str, schema.Media]:
        if not self.cameras or self.writer is None or self.camera_records is None:
            return {}
        import shutil

        from controller.store.footage import footage, media_bytes_by_source

        now = time.monotonic()
        if now - self._media_usage[0] >= 5.0:
            self._media_usage = (now, media_bytes_by_source(self.writer.layout.database))
        stored = self._media_usage[1]
        written = {name: m.bytes_written for name, m in self.camera_records.media.items()}
        seconds = time.time() - self.started_wall
        store = self.cfg.store
        try:
            free = shutil.disk_usage(self.writer.layout.data_dir).free
        except OSError:
            free = 0
        reserve = (store.reserved_space_mb + store.shed_margin_mb) * 1024 * 1024
        budgets = {c.name: c.media_budget_mb for c in self.cfg.cameras}
        out = {}
        for w in self.cameras:
            name = w.cfg.name
            f = footage(
                stored.get(name, 0), written.get(name, 0), seconds, budgets.get(name, 0.0),
                store.media_budget_mb, sum(written.values()),
                sum(stored.get(c, 0) for c in budgets), free - reserve,
            )
            out[name] = schema.Media(
                stored_bytes=f.stored_bytes, bytes_per_hour=round(f.bytes_per_hour),
                budget_bytes=f.budget_bytes, budget_from=f.budget_from,
                days_held=None if f.days_held is None else round(f.days_held, 2))
        return out

    def _status_line(self) -> str:
        nodes = self.link.node_stats() if self.link else []
        online = sum(1 for n in nodes if n.state in ONLINE_STATES)
        committed = self.writer.stats.committed if self.writer else 0
        active = len(self.desk.points()) if self.desk else 0
        return (f"{online}/{len(nodes)} nodes online, {active} alarm(s), "
                f"{committed} records stored")

    def _nodes_status(self) -> list[schema.Node]:
        """Every node the link has heard and every configured node it has not (absent,
        failing or silent), so a dead node stays a row with its state."""
        nodes = []
        ports = {p.path: p for p in self.link.port_stats()} if self.link else {}
        heard: set[str] = set()
        if self.link is not None:
            for n in self.link.node_stats():
                heard.add(n.port)
                port = ports.get(n.port)
                rejected = collections.Counter(n.rejected)
                if port is not None:  # frames too broken to name a node count on its port
                    rejected.update(port.frame_errors)
                nodes.append(schema.Node(
                    id=n.uid, name=n.name, uid=n.uid, port=n.port,
                    state=n.state, online=n.state in ONLINE_STATES,
                    paired=n.state != "unpaired",
                    last_seen=n.last_seen_wall, frames_ok=n.frames_ok,
                    readings=n.readings_ok, rejected=dict(rejected),
                    firmware=n.firmware_version,
                    link=schema.NodeLink(
                        lost_frames=n.lost_frames, lost_frames_window=n.lost_frames_window,
                        lag_ms=n.lag_ms, forged_frames_window=n.forged_frames_window,
                        problems=list(n.link_problems)),
                    sample_rate_hz=self.sensors.sample_rates.get(n.uid),
                    port_state=port.state if port else None,
                    last_error=(port.last_error or None) if port else None,
                ))
        if self._fixed_ports is None:
            for spec in self.cfg.serial.nodes:
                if spec.port in heard:
                    continue
                state = self._node_port_state(spec.name)
                uid = self._registry_uid(spec.name)
                nodes.append(schema.Node(
                    id=uid or spec.name, name=spec.name, uid=uid, port=spec.port,
                    state=state["state"], online=False, paired=uid is not None,
                    last_seen=None, frames_ok=0, readings=0,
                    rejected=dict(ports[spec.port].frame_errors)
                    if spec.port in ports else {},
                    firmware="", sample_rate_hz=None,
                    port_state=state["port_state"], last_error=state["last_error"],
                ))
        return nodes

    def _registry_uid(self, name: str) -> str | None:
        try:
            return next((r.uid for r in self.keystore.nodes().values() if r.name == name),
                        None)
        except KeystoreError:
            return None

    def _node_port_state(self, name: str) -> dict[str, Any]:
        """State of a configured node for its row and its alarm's detail: online, offline,
        unpaired, or (nothing heard) absent / failing (its port) or silent (port open)."""
        spec = next((n for n in self.cfg.serial.nodes if n.name == name), None)
        if spec is None or self.link is None:
            return {"state": "unknown", "port": None, "port_state": None, "last_error": None}
        port = next((p for p in self.link.port_stats() if p.path == spec.port), None)
        heard = [n for n in self.link.node_stats() if n.port == spec.port]
        if heard:
            state = heard[0].state
        elif port is None or port.state == "open":
            state = "silent"
        elif port.state == "closed" and not port.last_error:
            state = "starting"
        else:
            state = "absent" if port.state == "absent" else "failing"
        return {"state": state, "port": spec.port,
                "port_state": port.state if port else None,
                "last_error": (port.last_error or None) if port else None}

    def _store_status(self) -> schema.Store:
        ws = self.writer.stats if self.writer else None
        totals = store_totals(self.writer.layout.database) if self.writer else None
        checkpoint = self.writer.checkpoints.status() if self.writer else None
        return schema.Store(
            records=totals.records if totals else 0,
            sealed=totals.sealed if totals else 0,
            seals=totals.seals if totals else 0,
            verification_key_fingerprint=self._vk_fingerprint,
            committed_since_start=ws.committed if ws else 0,
            batches=ws.batches if ws else 0,
            epoch=ws.epoch if ws else None,
            pending=ws.pending if ws else 0,
            dropped_no_space=ws.dropped_no_space if ws else 0,
            dropped_queue_full=ws.dropped_queue_full if ws else 0,
            shed_media_files=ws.shed_media_files if ws else 0,
            shed_readings=ws.shed_readings if ws else 0,
            not_stored=self.not_stored(),
            failed_commits=ws.failed_commits if ws else 0,
            state=ws.state if ws else "closed",
            failure=ws.failure if ws else None,
            failing_since=ws.failing_since if ws else None,
            reserve_bytes=ws.reserve_bytes if ws else 0,
            checkpoint=None if checkpoint is None
            else msgspec.convert(checkpoint, schema.Checkpoint),
        )

    def not_stored(self) -> int:
        """Every record lost: refused by `record` here, or dropped or failed in the writer."""
        return self.records_not_stored + (self.writer.stats.not_stored if self.writer else 0)

    def status(self, you: schema.You) -> schema.Status:
        """Everything `edgewarden status` and the TUI's dashboard show, for `you`."""
        desk = self.desk
        return schema.Status(
            state=self.state,
            version=VERSION,
            device=self.cfg.device.name,
            time=time.time(),
            uptime_s=round(time.monotonic() - self.started_mono, 1),
            nodes=self._nodes_status(),
            ports=[schema.Port(path=p.path, open=p.is_open, reopens=p.reopens,
                               frame_errors=dict(p.frame_errors), last_error=p.last_error)
                   for p in (self.link.port_stats() if self.link else [])],
            channels=[
                schema.Channel(key=k, node=c.node, channel=c.channel, unit=c.unit,
                               value=c.value, t=c.t, history=list(c.history[-30:]),
                               score=round(desk.engine.score(k), 3) if desk else 0.0)
                for k, c in sorted(self.sensors.channels.items())
            ],
            alarms=[notices.alarm_of(v, detail) for v, detail in desk.points()]
            if desk else [],
            cameras=self._cameras_status(),
            health=self.last_health,
            store=self._store_status(),
            queues=schema.Queues(
                readings_dropped=self.link.dropped if self.link else 0,
                control=self.server.stats() if self.server else schema.ControlQueue(
                    clients=0, subscribers=0, events_published=0, events_dropped=0,
                    clients_refused=0, queue_size=self.cfg.control.subscriber_queue_size,
                    backlog=0)),
            forwarder=self.forwarder,
            config=schema.ConfigState(
                path=str(self.config_path) if self.config_path else None,
                reloads=self.reload_count, last_error=self.last_reload_error),
            you=you,
        )
