"""Per-node session state machine (controller side), sans-IO.

HELLO (tagged under the handshake key) -> WELCOME (fresh session nonce) establishes a
session; only then are readings accepted. A new HELLO opens a *pending* session and the
current one stays valid until a frame verifies under the pending key, so a replayed HELLO
cannot knock a healthy node offline. Time (`now_ms`) and randomness (`random_bytes`) are
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
    """What one frame did: accepted messages, readings refused one by one, replies to send."""

    messages: list[Message] = field(default_factory=list)
    rejected: list[RejectReason] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    channels: dict[int, ChannelSpec] = field(default_factory=dict)  # of the accepting session


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
        self._pending: _Session | None = None
        self._hs_counter = 0
        self._last_hello_request_ms: int | None = None

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
        self._pending = None

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
        assert self._key is not None
        nonce = self._random(NONCE_LEN)
        self._pending = _Session(
            node_nonce=msg.node_nonce,
            session_nonce=nonce,
            tag_key=session_key(self._key, msg.node_nonce, nonce),
            channels={c.channel_id: c for c in msg.channels},
            firmware_version=msg.firmware_version,
            window=ReplayWindow(self._window_size),
        )
        self._hs_counter += 1
        welcome = Welcome(msg.node_nonce, nonce, now_ms)
        result.replies.append(build_signed_frame(
            self._hs_key, self.node_id, self._hs_counter, MsgType.WELCOME, welcome.encode(),
            from_controller=True))
        result.messages.append(msg)
        result.channels = self._pending.channels

    def _handle_session_frame(self, frame: Frame, now_ms: int, result: SessionResult) -> None:
        session: _Session | None = None
        if self._current is not None and tag_matches(self._current.tag_key, frame):
            session = self._current
        elif self._pending is not None and tag_matches(self._pending.tag_key, frame):
            session = self._current = self._pending  # first frame of the new session
            self._pending = None
        if session is None:
            if self._current is None and self._pending is None:
                result.rejected.append(RejectReason.NO_SESSION)
                self._maybe_request_hello(now_ms, result)
            else:
                result.rejected.append(RejectReason.BAD_SIGNATURE)
            return
        replay = session.window.check(frame.counter)
        if replay is not None:
            result.rejected.append(replay)
            return
        session.window.commit(frame.counter)
        msg = decode_message(frame.msg_type, frame.payload)
        if isinstance(msg, RejectReason):
            result.rejected.append(msg)
            return
        result.channels = session.channels
        if isinstance(msg, ReadingMsg):
            self._accept_reading(msg, session, result)
        elif isinstance(msg, ReadingBatch):
            for r in msg.readings:
                self._accept_reading(r, session, result)
        else:
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
