"""Why a frame or reading was turned away: one enum, so every counter and log line agrees."""

from __future__ import annotations

import enum


class RejectReason(enum.Enum):
    """Every way the controller refuses input from the wire; values are stable log/JSON names."""

    # framing (firmware_bridge.frame)
    TOO_LONG = "too_long"  # a run between delimiters longer than MAX_ENCODED_LEN
    BAD_COBS = "bad_cobs"  # COBS stuffing is invalid
    TOO_SHORT = "too_short"  # shorter than a header plus CRC
    BAD_CRC = "bad_crc"  # line noise: the CRC32 does not match
    BAD_VERSION = "bad_version"  # a protocol version this controller does not speak
    BAD_LENGTH = "bad_length"  # payload length field disagrees with the frame
    # authentication (firmware_bridge.signing / session)
    UNSIGNED = "unsigned"  # no tag on a frame that needs one
    BAD_SIGNATURE = "bad_signature"  # tag does not verify under the node's key
    REPLAYED = "replayed"  # counter already seen in this session
    OUT_OF_WINDOW = "out_of_window"  # counter older than the replay window
    UNPAIRED = "unpaired"  # no key for this node uid
    NO_SESSION = "no_session"  # signed data before the HELLO/WELCOME handshake
    WRONG_DIRECTION = "wrong_direction"  # a controller-to-node frame reflected back
    # messages (firmware_bridge.messages)
    UNKNOWN_TYPE = "unknown_type"  # counted and ignored
    BAD_PAYLOAD = "bad_payload"  # payload does not parse for its type
    UNKNOWN_CHANNEL = "unknown_channel"  # channel id not declared in HELLO
    OUT_OF_RANGE = "out_of_range"  # value outside the channel's declared valid range
    # link (firmware_bridge.link)
    RATE_LIMITED = "rate_limited"  # node exceeded its token bucket
    QUEUE_FULL = "queue_full"  # output queue full: reading dropped (counted)
