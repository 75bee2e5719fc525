"""The control socket's wire format: versioned newline-delimited JSON (pure, no I/O).

One JSON object per line, UTF-8, in both directions::

    request   {"v":2,"id":7,"cmd":"alarms.ack","args":{"alarm":"a-12"}}
    response  {"v":2,"id":7,"ok":true,"result":{...}}
              {"v":2,"id":7,"ok":false,"code":"refused","error":"alarms.ack needs role ops"}
    event     {"v":2,"event":"reading","seq":41,"dropped":0,"data":{...}}

Requests are bounded before they reach a handler: nesting at most `MAX_DEPTH` levels,
integers of at most `MAX_INT_DIGITS` digits (and within 64 bits), other numbers at most
`MAX_NUMBER_CHARS` characters, no NaN or Infinity; beyond that the reply is the typed error
``too_complex`` (the connection stays open).

`id` is the client's (an integer it chooses, echoed back); a line that cannot be parsed
gets ``"id":null``. `seq` numbers the events a subscriber was sent; `dropped` is how many
events its bounded queue had to drop so far (never silent). The version changes whenever a
payload's shape does (`controller.control.schema` types them): 2 is the typed schema of
every reply and every event (the caller's role by name; alarm, detection and plate notices
name their record by `seq`; health nests its sample). This is the only version spoken: a
request with another `v` is answered with code ``unsupported_version``, and a client reading
a message of another version says so in one line (:func:`version_mismatch`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final, Literal

PROTOCOL_VERSION: Final = 2

EventKind = Literal["reading", "alarm", "detection", "health", "plate"]
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("reading", "alarm", "detection", "health",
                                             "plate")

#: Machine-readable error codes; the `error` text is for people.
ErrorCode = Literal[
    "invalid",              # not JSON, wrong shape, bad args
    "unsupported_version",  # v is not PROTOCOL_VERSION
    "unknown_command",
    "refused",              # the caller's role is too low
    "failed",               # the handler said no (CommandError)
    "internal",             # the handler crashed; details are in the service log only
    "busy",                 # too many clients
    "too_large",            # request line over the limit
    "too_complex",          # JSON nested too deep, or a number too long
]

MAX_DEPTH: Final = 16
MAX_INT_DIGITS: Final = 19
MAX_NUMBER_CHARS: Final = 40


class ProtocolError(ValueError):
    """A line that is not a valid message; `request_id` when one could be read."""

    def __init__(self, code: ErrorCode, message: str, request_id: int | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.request_id = request_id


@dataclass(frozen=True)
class Request:
    id: int
    cmd: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Response:
    id: int | None
    ok: bool
    result: Any = None
    code: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Event:
    event: str
    seq: int
    dropped: int
    data: Any


def _bounded_int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise ProtocolError("too_complex", f"integer of {digits} digits (at most "
                            f"{MAX_INT_DIGITS})")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ProtocolError("too_complex", "integer outside 64 bits")
    return value


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise ProtocolError("too_complex", f"number of {len(text)} characters (at most "
                            f"{MAX_NUMBER_CHARS})")
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError("too_complex", f"number {text} is out of range")
    return value


def _no_constant(text: str) -> Any:
    raise ProtocolError("invalid", f"{text} is not a JSON number")


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether `value` nests at most `limit` containers deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return True


def _load_object(line: bytes | str, bounded: bool = True) -> dict[str, Any]:
    try:
        if bounded:
            obj = json.loads(line, parse_int=_bounded_int, parse_float=_bounded_float,
                             parse_constant=_no_constant)
        else:
            obj = json.loads(line)
    except RecursionError:
        raise ProtocolError("too_complex", f"JSON nested deeper than {MAX_DEPTH} levels") \
            from None
    except ProtocolError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("invalid", f"not a JSON line: {exc}") from None
    except ValueError as exc:  # e.g. int() refusing a huge literal
        raise ProtocolError("too_complex", f"not an acceptable JSON line: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError("invalid", "a message must be a JSON object")
    if bounded and not _depth_ok(obj, MAX_DEPTH):
        raise ProtocolError("too_complex", f"JSON nested deeper than {MAX_DEPTH} levels",
                            obj.get("id") if _is_int(obj.get("id")) else None)
    return obj


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_request(line: bytes | str) -> Request:
    """Validate one request line; raises :class:`ProtocolError` with a reason."""
    obj = _load_object(line)
    raw_id = obj.get("id")
    request_id = raw_id if _is_int(raw_id) else None
    if obj.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            "unsupported_version",
            f"protocol version {obj.get('v')!r} not supported (this service speaks "
            f"v{PROTOCOL_VERSION})",
            request_id,
        )
    if request_id is None:
        raise ProtocolError("invalid", "'id' must be an integer", None)
    cmd = obj.get("cmd")
    if not isinstance(cmd, str) or not cmd:
        raise ProtocolError("invalid", "'cmd' must be a non-empty string", request_id)
    args = obj.get("args", {})
    if not isinstance(args, dict):
        raise ProtocolError("invalid", "'args' must be an object", request_id)
    unknown = set(obj) - {"v", "id", "cmd", "args"}
    if unknown:
        raise ProtocolError(
            "invalid", f"unknown request field(s): {', '.join(sorted(unknown))}", request_id
        )
    return Request(id=request_id, cmd=cmd, args=args)


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=_json_default).encode("utf-8") + b"\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        raise TypeError("bytes are not JSON; handlers must encode them (base64) first")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_request(request_id: int, cmd: str, args: dict[str, Any] | None = None) -> bytes:
    return _dumps({"v": PROTOCOL_VERSION, "id": request_id, "cmd": cmd, "args": args or {}})


def encode_result(request_id: int, result: Any) -> bytes:
    """A success response; raises TypeError/ValueError when `result` is not JSON."""
    return _dumps({"v": PROTOCOL_VERSION, "id": request_id, "ok": True,
                   "result": _finite(result)})


def encode_error(request_id: int | None, code: ErrorCode, message: str) -> bytes:
    return _dumps({"v": PROTOCOL_VERSION, "id": request_id, "ok": False, "code": code,
                   "error": " ".join(message.splitlines())})


def encode_event(kind: str, seq: int, dropped: int, data: Any) -> bytes:
    return _dumps({"v": PROTOCOL_VERSION, "event": kind, "seq": seq, "dropped": dropped,
                   "data": _finite(data)})


def _finite(value: Any) -> Any:
    """NaN/inf are not JSON: send them as null rather than break the stream."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def version_mismatch(theirs: object) -> str:
    """One line for a client whose service speaks another protocol version."""
    return (f"the service speaks control protocol version {theirs!r}, this client "
            f"speaks {PROTOCOL_VERSION}: run a client and service of the same release")


def parse_server_message(line: bytes | str) -> Response | Event:
    """What a client reads: a response to one of its requests, or a subscription event."""
    obj = _load_object(line, bounded=False)
    if obj.get("v") != PROTOCOL_VERSION:
        raise ProtocolError("unsupported_version", version_mismatch(obj.get("v")))
    if "event" in obj:
        kind, seq, dropped = obj.get("event"), obj.get("seq"), obj.get("dropped", 0)
        if not isinstance(kind, str) or not isinstance(seq, int) or not isinstance(dropped, int):
            raise ProtocolError("invalid", "malformed event message")
        return Event(event=kind, seq=seq, dropped=dropped, data=obj.get("data"))
    ok = obj.get("ok")
    raw_id = obj.get("id")
    if not isinstance(ok, bool) or not (raw_id is None or _is_int(raw_id)):
        raise ProtocolError("invalid", "malformed response message")
    if ok:
        return Response(id=raw_id, ok=True, result=obj.get("result"))
    return Response(id=raw_id, ok=False, code=str(obj.get("code", "failed")),
                    error=str(obj.get("error", "")))
