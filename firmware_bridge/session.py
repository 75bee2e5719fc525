"""Per-node session state machine (controller side), sans-IO.

HELLO (tagged under the handshake key) -> WELCOME (fresh session nonce) establishes a
session; only then are readings accepted. A new HELLO opens a *pending* session and the
current one stays valid until a frame verifies under the pending key, so a replayed HELLO
cannot knock a healthy node offline.

The handshake is idempotent per node nonce: a repeated HELLO (the node retries every
second, and a stalled controller finds several queued) gets the *same* WELCOME again, so
whichever copy the node takes, its session is the one the controller holds. Up to
`MAX_PENDING` nonces are pending at once. A node whose frames verify under no known key
while nothing has verified for `BROKEN_SESSION_MS` is asked to say HELLO again.

Each accepted frame reports how many counters it skipped (`lost_frames`): a relay that
drops frames cannot hide the gap. Time (`now_ms`) and randomness (`random_bytes`) are
passed in: this module does no I/O.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_bridge.frame import Frame
from firmware_bridge.messages import (
    HANDSHAKE_TYPES,
    NONCE_LEN,
    ChannelSpec,
    Heartbeat,
    Hello,
    HelloRequest,
    Message,
    MsgType,
    ReadingBatch,
    ReadingMsg,
    Welcome,
    decode_message,
)
from firmware_bridge.reasons import RejectReason
from firmware_bridge.signing import (
    DEFAULT_REPLAY_WINDOW,
    ReplayWindow,
    SecretKey,
    build_signed_frame,
    build_unsigned_frame,
    handshake_key,
    session_key,
    tag_matches,
)

HELLO_REQUEST_INTERVAL_MS = 1000
MAX_PENDING = 2  # HELLO nonces awaiting their first frame; the oldest is forgotten first
BROKEN_SESSION_MS = 1500  # bad signatures and nothing verified this long: ask for HELLO


class SessionState(enum.Enum):
    UNPAIRED = "unpaired"  # the controller holds no key for this uid
    AWAITING_HELLO = "awaiting_hello"  # paired, no session yet
    ESTABLISHED = "established"


@dataclass
class _Session:
    node_nonce: bytes
    session_nonce: bytes
    tag_key: bytes
    channels: dict[int, ChannelSpec]
    firmware_version: str
    window: ReplayWindow
    tx_counter: int = 0


@dataclass
class SessionResult:
    """What one frame did: accepted messages, readings refused one by one, replies to send.

    `authentic` says the frame verified and was fresh (the node itself sent it: only such
    frames count against the node's rate budget); `handshake` marks an authentic HELLO;
    `lost_frames` is how many counters the frame skipped (negative when it filled an
    earlier gap); `node_time_ms` is the node's clock the frame carried, if any.
    """

    messages: list[Message] = field(default_factory=list)
    rejected: list[RejectReason] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    channels: dict[int, ChannelSpec] = field(default_factory=dict)  # of the accepting session
    authentic: bool = False
    handshake: bool = False
    lost_frames: int = 0
    node_time_ms: int | None = None


class NodeSession:
    """Authentication and message acceptance for one node uid."""

    def __init__(
        self,
        node_id: bytes,
        key: SecretKey | None,
        random_bytes: Callable[[int], bytes],
        replay_window: int = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        self.node_id = node_id
        self._key = key
        self._hs_key = handshake_key(key) if key is not None else b""
        self._random = random_bytes
        self._window_size = replay_window
        self._current: _Session | None = None
        self._pending: dict[bytes, _Session] = {}  # node nonce -> session, oldest first
        self._hs_counter = 0
        self._last_hello_request_ms: int | None = None
        self._last_verified_ms: int | None = None

    @property
    def state(self) -> SessionState:
        if self._key is None:
            return SessionState.UNPAIRED
        return SessionState.ESTABLISHED if self._current else SessionState.AWAITING_HELLO

    @property
    def channels(self) -> dict[int, ChannelSpec]:
        return dict(self._current.channels) if self._current else {}

    @property
    def firmware_version(self) -> str:
        return self._current.firmware_version if self._current else ""

    def handle(self, frame: Frame, now_ms: int) -> SessionResult:
        """Verify one frame from the node and say what it carried."""
        result = SessionResult()
        if frame.from_controller:
            result.rejected.append(RejectReason.WRONG_DIRECTION)
        elif self._key is None:
            result.rejected.append(RejectReason.UNPAIRED)
        elif frame.tag is None:
            result.rejected.append(RejectReason.UNSIGNED)
        elif frame.msg_type in HANDSHAKE_TYPES:
            self._handle_handshake(frame, now_ms, result)
        else:
            self._handle_session_frame(frame, now_ms, result)
        return result

    def seal(self, message: Message) -> bytes | None:
        """Wire bytes of a controller-to-node message in the current session (None: no session)."""
        s = self._current
        if s is None:
            return None
        s.tx_counter += 1
        return build_signed_frame(s.tag_key, self.node_id, s.tx_counter, message.msg_type,
                                  message.encode(), from_controller=True)

    def reset(self) -> None:
        """Forget the session (the port went away); the node must say HELLO again."""
        self._current = None
        self._pending.clear()

    # ------------------------------------------------------------------ internals
    def _handle_handshake(self, frame: Frame, now_ms: int, result: SessionResult) -> None:
        if frame.msg_type != MsgType.HELLO or not tag_matches(self._hs_key, frame):
            result.rejected.append(RejectReason.BAD_SIGNATURE)
            return
        msg = decode_message(frame.msg_type, frame.payload)
        if not isinstance(msg, Hello) or len(msg.node_nonce) != NONCE_LEN:
            result.rejected.append(
                msg if isinstance(msg, RejectReason) else RejectReason.BAD_PAYLOAD)
            return
        result.authentic = result.handshake = True
        if self._current is not None and self._current.node_nonce == msg.node_nonce:
            return  # a late copy (or a replay) of the HELLO this session came from
        pending = self._pending.get(msg.node_nonce)
        if pending is None:
            assert self._key is not None
            nonce = self._random(NONCE_LEN)
            pending = _Session(
                node_nonce=msg.node_nonce,
                session_nonce=nonce,
                tag_key=session_key(self._key, msg.node_nonce, nonce),
                channels={c.channel_id: c for c in msg.channels},
                firmware_version=msg.firmware_version,
                window=ReplayWindow(self._window_size),
            )
            self._pending[msg.node_nonce] = pending
            while len(self._pending) > MAX_PENDING:
                del self._pending[next(iter(self._pending))]
        # the same session nonce for every copy of this HELLO: the node keeps the first
        self._hs_counter += 1
        welcome = Welcome(msg.node_nonce, pending.session_nonce, now_ms)
        result.replies.append(build_signed_frame(
            self._hs_key, self.node_id, self._hs_counter, MsgType.WELCOME, welcome.encode(),
            from_controller=True))
        result.messages.append(msg)
        result.channels = pending.channels

    def _verifying_session(self, frame: Frame) -> _Session | None:
        """The session whose key verifies `frame`; a pending one is promoted by it."""
        if self._current is not None and tag_matches(self._current.tag_key, frame):
            return self._current
        for pending in self._pending.values():
            if tag_matches(pending.tag_key, frame):
                self._current = pending  # first frame of the new session
                self._pending.clear()
                return pending
        return None

    def _handle_session_frame(self, frame: Frame, now_ms: int, result: SessionResult) -> None:
        session = self._verifying_session(frame)
        if session is None:
            if self._current is None and not self._pending:
                result.rejected.append(RejectReason.NO_SESSION)
                self._maybe_request_hello(now_ms, result)
            else:
                result.rejected.append(RejectReason.BAD_SIGNATURE)
                last = self._last_verified_ms
                if last is None or now_ms - last >= BROKEN_SESSION_MS:
                    self._maybe_request_hello(now_ms, result)  # the session is broken
            return
        replay = session.window.check(frame.counter)
        if replay is not None:
            result.rejected.append(replay)
            return
        highest = max(session.window.highest, 0)
        result.lost_frames = frame.counter - highest - 1 if frame.counter > highest else -1
        session.window.commit(frame.counter)
        self._last_verified_ms = now_ms
        result.authentic = True
        msg = decode_message(frame.msg_type, frame.payload)
        if isinstance(msg, RejectReason):
            result.rejected.append(msg)
            return
        result.channels = session.channels
        if isinstance(msg, ReadingMsg):
            result.node_time_ms = msg.node_time_ms
            self._accept_reading(msg, session, result)
        elif isinstance(msg, ReadingBatch):
            if msg.readings:
                result.node_time_ms = msg.readings[0].node_time_ms
            for r in msg.readings:
                self._accept_reading(r, session, result)
        else:
            if isinstance(msg, Heartbeat):
                result.node_time_ms = msg.node_time_ms
            result.messages.append(msg)

    @staticmethod
    def _accept_reading(r: ReadingMsg, session: _Session, result: SessionResult) -> None:
        spec = session.channels.get(r.channel_id)
        if spec is None:
            result.rejected.append(RejectReason.UNKNOWN_CHANNEL)
        elif not (math.isfinite(r.value) and spec.valid_min <= r.value <= spec.valid_max):
            result.rejected.append(RejectReason.OUT_OF_RANGE)
        else:
            result.messages.append(r)

    def _maybe_request_hello(self, now_ms: int, result: SessionResult) -> None:
        last = self._last_hello_request_ms
        if last is not None and now_ms - last < HELLO_REQUEST_INTERVAL_MS:
            return
        self._last_hello_request_ms = now_ms
        result.replies.append(build_unsigned_frame(
            self.node_id, 0, MsgType.HELLO_REQUEST, HelloRequest().encode(),
            from_controller=True))
