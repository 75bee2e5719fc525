"""The reference sensor-node firmware: handshake, sampling, pairing, controller commands.

Runs unchanged on MicroPython (RP2040, see main.py) and on CPython (see shim.py): all
hardware access goes through a `Hal` object, everything else is plain Python that
MicroPython implements (struct, hashlib.sha256, bytes, classes).
"""

from . import wire
from .sensors import CHANNELS, Environment, Faults, Rng

FIRMWARE_VERSION = "1.0.0"
HELLO_RETRY_MS = 1000
PAIR_REQUEST_MS = 500
HEARTBEAT_MS = 1000
STATUS_MS = 10000
MAX_RATE_HZ = 2000.0
MAX_SAMPLES_PER_POLL = 50
REPLAY_MEMORY = 8


class Hal:
    """What the firmware needs from a board; main.py and shim.py implement it."""

    def ticks_ms(self) -> int:
        raise NotImplementedError

    def ticks_diff(self, a: int, b: int) -> int:
        raise NotImplementedError

    def sleep_ms(self, ms: int) -> None:
        raise NotImplementedError

    def urandom(self, n: int) -> bytes:
        raise NotImplementedError

    def read(self) -> bytes:
        """Bytes the UART has received so far (b"" if none); never blocks."""
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def pairing_button(self) -> bool:
        """True while the physical pairing button is held (or was pressed at boot)."""
        raise NotImplementedError

    def load_key(self) -> "bytes | None":
        raise NotImplementedError

    def store_key(self, key: bytes) -> None:
        raise NotImplementedError

    def unique_id(self) -> bytes:
        raise NotImplementedError

    def reset(self) -> None:
        """Reboot the board (the CPython shim restarts the firmware state instead)."""
        raise NotImplementedError


class Node:
    def __init__(self, hal: Hal, channels: "list | None" = None, rate_hz: float = 1.0,
                 faults: "Faults | None" = None) -> None:
        self.hal = hal
        self.uid = hal.unique_id()
        names = channels if channels else list(CHANNELS)
        self.channels = [CHANNELS[n] for n in names]
        self.rate_hz = rate_hz
        self.faults = faults if faults is not None else Faults([])
        self.rng = Rng(int.from_bytes(hal.urandom(4), "little"))
        self.env = Environment(self.rng, self.faults)
        self.splitter = wire.StreamSplitter()
        self.frames_sent = 0
        self.frames_rejected = 0
        self.t0 = hal.ticks_ms()
        self.boot()

    # ------------------------------------------------------------------ state
    def boot(self) -> None:
        """Power-on state: no session; pairing mode only if the button is held."""
        key = self.hal.load_key()
        self.key = key
        self.hs_key = wire.handshake_key(key) if key else None
        self.pairing = self.hal.pairing_button()
        self.pair_nonce = self.hal.urandom(wire.NONCE_LEN)
        self.session_key: "wire.HmacKey | None" = None
        self.hello_nonce: "bytes | None" = None
        self.tx_counter = 0
        self.rx_counter = 0
        self.time_base = 0
        self.time_ref = self.hal.ticks_ms()
        now = self.hal.ticks_ms()
        self.last_hello = now - HELLO_RETRY_MS
        self.last_pair_request = now - PAIR_REQUEST_MS
        self.last_heartbeat = now
        self.last_status = now
        self.next_sample = now
        self.sent_memory: list = []

    def elapsed_s(self) -> float:
        return self.hal.ticks_diff(self.hal.ticks_ms(), self.t0) / 1000.0

    def node_time_ms(self) -> int:
        return self.time_base + self.hal.ticks_diff(self.hal.ticks_ms(), self.time_ref)

    # ------------------------------------------------------------------ sending
    def send_raw(self, data: bytes) -> None:
        self.hal.write(data)

    def send(self, msg_type: int, payload: bytes) -> None:
        """A session frame: signed under the session key, garbled as faults say."""
        t = self.elapsed_s()
        if self.faults.active("dropout", t):
            return
        self.tx_counter += 1
        frame = wire.build(self.uid, self.tx_counter, msg_type, payload, self.session_key,
                           corrupt_tag=self.faults.active("badsig", t))
        if self.faults.active("garbage", t):
            self.send_raw(self.rng.bytes(5 + self.rng.u32() % 40))
        self.send_raw(frame)
        self.frames_sent += 1
        if self.faults.active("replay", t) and self.sent_memory:
            self.send_raw(self.sent_memory[0])  # an old frame, byte for byte
        self.sent_memory.append(frame)
        if len(self.sent_memory) > REPLAY_MEMORY:
            self.sent_memory.pop(0)

    def send_hello(self) -> None:
        self.last_hello = self.hal.ticks_ms()
        nonce = self.hello_nonce
        if nonce is None:
            nonce = self.hello_nonce = self.hal.urandom(wire.NONCE_LEN)
        chans = [(c[0], c[1], c[2], c[3], c[4]) for c in self.channels]
        payload = wire.hello_payload(nonce, FIRMWARE_VERSION, chans)
        # without a key the HELLO goes out unsigned: the controller lists the node as unpaired
        self.send_raw(wire.build(self.uid, 0, wire.HELLO, payload, self.hs_key))

    def send_pair_request(self) -> None:
        self.last_pair_request = self.hal.ticks_ms()
        payload = self.pair_nonce + wire.str8(FIRMWARE_VERSION)
        self.send_raw(wire.build(self.uid, 0, wire.PAIR_REQUEST, payload, None))

    # ------------------------------------------------------------------ main loop
    def poll(self) -> None:
        """One pass of the main loop: handle received frames, then whatever is due."""
        data = self.hal.read()
        if data:
            for run in self.splitter.feed(data):
                frame = wire.parse(run)
                if frame is None or frame.node_id != self.uid or not (
                        frame.flags & wire.FLAG_FROM_CONTROLLER):
                    self.frames_rejected += 1
                    continue
                self.handle(frame)
        now = self.hal.ticks_ms()
        if self.pairing:
            if self.hal.ticks_diff(now, self.last_pair_request) >= PAIR_REQUEST_MS:
                self.send_pair_request()
            return
        if self.session_key is None or self.hello_nonce is not None:
            if self.hal.ticks_diff(now, self.last_hello) >= HELLO_RETRY_MS:
                self.send_hello()
        if self.session_key is None:
            return
        self.sample_due(now)
        if self.hal.ticks_diff(now, self.last_heartbeat) >= HEARTBEAT_MS:
            self.last_heartbeat = now
            self.send(wire.HEARTBEAT, wire.heartbeat_payload(
                self.hal.ticks_diff(now, self.t0), self.node_time_ms()))
        if self.hal.ticks_diff(now, self.last_status) >= STATUS_MS:
            self.last_status = now
            self.send(wire.STATUS, wire.status_payload(
                self.rate_hz, self.frames_sent, self.frames_rejected,
                self.faults.active_names(self.elapsed_s())))

    def sample_due(self, now: int) -> None:
        interval = 1000.0 / self.rate_hz
        behind = self.hal.ticks_diff(now, self.next_sample)
        if behind < 0:
            return
        count = min(int(behind // interval) + 1, MAX_SAMPLES_PER_POLL)
        if behind > interval * MAX_SAMPLES_PER_POLL:
            self.next_sample = now  # too far behind (e.g. rate raised): do not burst forever
        for _ in range(count):
            self.send_sample()
            self.next_sample += int(interval) if interval >= 1 else 1
        if interval < 1:
            self.next_sample = now + 1

    def send_sample(self) -> None:
        t = self.elapsed_s()
        values = self.env.sample(t)
        stamp = self.node_time_ms()
        entries = [wire.reading_entry(c[0], stamp, values[c[1]]) for c in self.channels]
        if len(entries) == 1:
            self.send(wire.READING, entries[0])
        else:
            self.send(wire.READING_BATCH, wire.batch_payload(entries))

    # ------------------------------------------------------------------ receiving
    def handle(self, frame: wire.Frame) -> None:
        t = frame.msg_type
        if self.pairing:
            if t == wire.PAIR_KEY:
                self.handle_pair_key(frame)
            return
        if t == wire.HELLO_REQUEST:
            # unauthenticated, so it only starts a handshake; the current session stays
            if self.key and self.hal.ticks_diff(self.hal.ticks_ms(), self.last_hello) >= 500:
                self.hello_nonce = None
                self.send_hello()
            return
        if t == wire.WELCOME:
            self.handle_welcome(frame)
            return
        if self.session_key is None or not frame.verify(self.session_key):
            self.frames_rejected += 1
            return
        if frame.counter <= self.rx_counter:
            self.frames_rejected += 1  # replayed controller command
            return
        self.rx_counter = frame.counter
        if t == wire.CONFIG_SET:
            parsed = wire.parse_config_set(frame.payload)
            if parsed is None:
                self.frames_rejected += 1
                return
            key, value = parsed
            ok = key == "rate_hz" and 0 < value <= MAX_RATE_HZ
            if ok:
                self.rate_hz = value
                self.next_sample = self.hal.ticks_ms()
            self.send(wire.CONFIG_ACK, wire.config_ack_payload(key, ok, self.rate_hz))
        elif t == wire.TIME_SYNC:
            ms = wire.parse_time_sync(frame.payload)
            if ms is not None:
                self.set_time(ms)
        elif t == wire.REBOOT:
            self.send(wire.LOG, wire.log_payload(20, "rebooting on controller request"))
            self.hal.reset()
            self.boot()

    def set_time(self, controller_ms: int) -> None:
        self.time_base = controller_ms
        self.time_ref = self.hal.ticks_ms()

    def handle_welcome(self, frame: wire.Frame) -> None:
        if self.hs_key is None or self.hello_nonce is None or not frame.verify(self.hs_key):
            self.frames_rejected += 1
            return
        parsed = wire.parse_welcome(frame.payload)
        if parsed is None or not wire.equal_nonce(parsed[0], self.hello_nonce):
            self.frames_rejected += 1  # a WELCOME for another HELLO (or a replayed one)
            return
        assert self.key is not None
        node_nonce, session_nonce, controller_ms = parsed
        self.session_key = wire.session_key(self.key, node_nonce, session_nonce)
        self.hello_nonce = None
        self.tx_counter = 0
        self.rx_counter = 0
        self.sent_memory = []
        self.set_time(controller_ms)
        self.next_sample = self.hal.ticks_ms()
        self.send(wire.LOG, wire.log_payload(20, "session established, firmware "
                                             + FIRMWARE_VERSION))

    def handle_pair_key(self, frame: wire.Frame) -> None:
        parsed = wire.parse_pair_key(frame.payload)
        if parsed is None or not wire.equal_nonce(parsed[0], self.pair_nonce):
            self.frames_rejected += 1
            return
        key = parsed[1]
        self.hal.store_key(key)
        confirmation = wire.pair_confirmation(key, self.pair_nonce)
        self.send_raw(wire.build(self.uid, 0, wire.PAIR_DONE, confirmation, None))
        # one key per button press: leave pairing mode and start a session with the new key
        self.pairing = False
        self.key = key
        self.hs_key = wire.handshake_key(key)
        self.hello_nonce = None
        self.last_hello = self.hal.ticks_ms() - HELLO_RETRY_MS

    def run_forever(self) -> None:
        while True:
            self.poll()
            self.hal.sleep_ms(1)
