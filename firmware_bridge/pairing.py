"""Pairing: give a fresh key to a node that is in pairing mode (button held), sans-IO core
plus a blocking serial adapter used by `edgewarden pair`.

Exchange (all unsigned: there is no shared key yet):
  node -> PAIR_REQUEST(pair_nonce, firmware)       repeated every 0.5 s while in pairing mode
  ctrl -> PAIR_KEY(pair_nonce, key)                 key = 32 fresh random bytes
  node -> PAIR_DONE(HMAC(key, "edgewarden pair v1" || pair_nonce)[:16])
The controller stores the key only after the confirmation verifies. What an attacker on
the wire can do is written down in PROTOCOL.md ("Pairing threats").
"""

from __future__ import annotations

import enum
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.frame import Frame, FrameDecoder
from firmware_bridge.messages import MsgType, PairDone, PairKey, PairRequest, decode_message
from firmware_bridge.signing import SecretKey, build_unsigned_frame, pair_confirmation


class PairingError(Exception):
    """Pairing failed; the message says why and what to do."""


class PairingState(enum.Enum):
    WAITING = "waiting"  # for a PAIR_REQUEST
    KEY_SENT = "key_sent"  # waiting for PAIR_DONE
    DONE = "done"


@dataclass
class PairingStep:
    replies: list[bytes]
    done: bool = False


class PairingController:
    """Controller side of one pairing; `check_uid` may raise PairingError to refuse a node
    (already paired) before it is given a key."""

    def __init__(self, key: SecretKey, check_uid: Callable[[str], None]) -> None:
        self._key = key
        self._check_uid = check_uid
        self.state = PairingState.WAITING
        self.uid: str | None = None
        self.firmware_version = ""
        self._node_id = b""
        self._nonce = b""

    def handle(self, frame: Frame | object) -> PairingStep:
        step = PairingStep(replies=[])
        if not isinstance(frame, Frame) or frame.from_controller:
            return step
        msg = decode_message(frame.msg_type, frame.payload)
        if isinstance(msg, PairRequest):
            if self.state is PairingState.WAITING:
                self._check_uid(frame.uid)
                self.uid, self._node_id, self._nonce = frame.uid, frame.node_id, msg.pair_nonce
                self.firmware_version = msg.firmware_version
                self.state = PairingState.KEY_SENT
            elif frame.uid != self.uid:
                raise PairingError(
                    f"a second node ({frame.uid}) asks to pair while {self.uid} is pairing: "
                    "pair one node at a time (or someone else is on the wire)")
            elif not hmac.compare_digest(msg.pair_nonce, self._nonce):
                raise PairingError(
                    f"node {self.uid} restarted pairing; press its pairing button again")
            if self.state is PairingState.KEY_SENT:  # (re)send: the node may have missed it
                step.replies.append(build_unsigned_frame(
                    self._node_id, 0, MsgType.PAIR_KEY,
                    PairKey(self._nonce, self._key.reveal()).encode(), from_controller=True))
        elif isinstance(msg, PairDone) and self.state is PairingState.KEY_SENT \
                and frame.uid == self.uid:
            expected = pair_confirmation(self._key, self._nonce)
            if not hmac.compare_digest(expected, msg.confirmation):
                raise PairingError(
                    f"node {self.uid} confirmed a different key: another device answered "
                    "on the wire; nothing was stored, check the cabling and pair again")
            self.state = PairingState.DONE
            step.done = True
        return step


@dataclass(frozen=True)
class PairedNode:
    uid: str
    firmware_version: str


def pair_over_serial(
    port: str,
    key: SecretKey,
    check_uid: Callable[[str], None],
    timeout_s: float = 30.0,
    baudrate: int = 921_600,
) -> PairedNode:
    """Run one pairing on `port`; blocks until done or raises PairingError."""
    import serial  # pyserial; imported here so the sans-IO part has no I/O dependency

    try:
        ser = serial.Serial(port, baudrate, timeout=0.1)
    except (serial.SerialException, OSError) as exc:
        raise PairingError(f"{port}: cannot open ({exc})") from None
    controller = PairingController(key, check_uid)
    decoder = FrameDecoder()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                data = ser.read(4096)
            except (serial.SerialException, OSError) as exc:
                raise PairingError(f"{port}: read failed ({exc})") from None
            for item in decoder.feed(data):
                step = controller.handle(item)
                for reply in step.replies:
                    ser.write(reply)
                if step.done:
                    assert controller.uid is not None
                    return PairedNode(controller.uid, controller.firmware_version)
    finally:
        ser.close()
    if controller.state is PairingState.KEY_SENT:
        raise PairingError(f"{port}: node {controller.uid} got a key but did not confirm it "
                           f"within {timeout_s:g} s; nothing was stored, pair again")
    raise PairingError(f"{port}: no node in pairing mode answered within {timeout_s:g} s "
                       "(hold the node's pairing button while powering it up)")
