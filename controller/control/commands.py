"""The command table: every control command, the least role it needs, and its arguments.

The service injects the handlers (an object implementing :class:`ControlHandlers`);
:func:`command_table` pairs them with the roles and argument specs below, and the server
enforces both before a handler runs. ``subscribe``/``unsubscribe`` are served by the
server itself (they manage the connection's event queue) but are in the table so role
checks and audit treat them like the rest.

Roles (see ARCHITECTURE "Local control and access"):

======================  =======  ==================================================
command                 role     what
======================  =======  ==================================================
status                  view     service state, nodes, alarms summary, queue drops
subscribe/unsubscribe   view     live readings, alarms, detections, health
alarms.ack              ops      acknowledge an alarm
alarms.shelve           ops      shelve an alarm for a while
events.list             ops      list event/alarm metadata (plaintext columns only)
history.fetch           ops      hand out ciphertext records + encrypted keys
config.get              ops      the running config (no secrets in it)
config.validate         ops      check a candidate config without applying it
config.apply            admin    validate, write and reload a new config
node.sample_rate        admin    set a node's sampling rate
pair                    admin    provision a node key
export                  admin    write an evidence bundle
vehicles.list           ops      the vehicle register (plates on allow/watch/deny)
vehicles.add            admin    add (or replace) a register entry
vehicles.remove         admin    remove a register entry
vehicles.import         admin    add or replace entries from CSV, all or nothing
forward.report          view     the MQTT forwarder's state (connected, outbox, error)
======================  =======  ==================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.control.roles import PeerCred, Role


class CommandError(Exception):
    """A handler's refusal the caller should see (bad alarm id, config invalid, ...).

    The message goes to the client and into the audit record: never put secrets in it.
    """


def requested_kinds(args: Mapping[str, Any]) -> list[str] | None:
    """The record kinds a listing asks for: ``kinds`` (a list) or one ``kind``; None = all."""
    kinds = args.get("kinds")
    if kinds is not None:
        if not (isinstance(kinds, list) and all(isinstance(k, str) for k in kinds)):
            raise CommandError("kinds must be a list of strings")
        return list(kinds)
    kind = args.get("kind")
    return [kind] if isinstance(kind, str) else None


@dataclass(frozen=True)
class Call:
    """Who is calling: handed to every handler (for its own audit detail or checks).

    A handler puts in `audit` what its audit record should say the request was about
    (which alarm, which node); never secrets. The socket's audit record carries it.
    """

    peer: PeerCred
    role: Role
    request_id: int
    audit: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Call, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Arg:
    """One argument: accepted JSON types and whether it must be present."""

    types: tuple[type, ...]
    required: bool = False


_STR = (str,)
_NUM = (int, float)
_INT = (int,)
_LIST = (list,)


@dataclass(frozen=True)
class CommandSpec:
    role: Role
    args: Mapping[str, Arg] = field(default_factory=dict)
    help: str = ""
    #: a true boolean argument that makes the request another action in the audit log
    #: (`export` with `estimate` only reads: it is audited as `export.estimate`)
    audit_as: Mapping[str, str] = field(default_factory=dict)


#: The least role and the argument schema of every command.
COMMAND_SPECS: Mapping[str, CommandSpec] = {
    "status": CommandSpec(Role.VIEW, {}, "service state"),
    "subscribe": CommandSpec(Role.VIEW, {"events": Arg(_LIST), "after": Arg(_INT),
                                         "stream": Arg(_STR)},
                             "stream reading/alarm/detection/health events (after, stream:"
                             " resume from the backlog after that sequence)"),
    "unsubscribe": CommandSpec(Role.VIEW, {}, "stop the event stream"),
    "alarms.ack": CommandSpec(Role.OPS, {"alarm": Arg(_STR, True), "comment": Arg(_STR)},
                              "acknowledge an alarm"),
    "alarms.shelve": CommandSpec(
        Role.OPS,
        {"alarm": Arg(_STR, True), "minutes": Arg(_NUM, True), "reason": Arg(_STR)},
        "shelve an alarm until it expires",
    ),
    "events.list": CommandSpec(
        Role.OPS,
        {"since": Arg(_NUM), "until": Arg(_NUM), "kind": Arg(_STR), "kinds": Arg(_LIST),
         "limit": Arg(_INT)},
        "list record metadata (of one kind, or of the kinds listed)",
    ),
    "history.fetch": CommandSpec(
        Role.OPS,
        {"since": Arg(_NUM), "until": Arg(_NUM), "kinds": Arg(_LIST), "limit": Arg(_INT)},
        "ciphertext records, encrypted epoch keys and the encrypted identity",
    ),
    "config.get": CommandSpec(Role.OPS, {}, "the running config"),
    "config.validate": CommandSpec(Role.OPS, {"toml": Arg(_STR, True)},
                                   "check a candidate config"),
    "config.apply": CommandSpec(Role.ADMIN, {"toml": Arg(_STR, True)},
                                "validate, store and reload a config"),
    "node.sample_rate": CommandSpec(Role.ADMIN, {"node": Arg(_STR, True), "hz": Arg(_NUM, True)},
                                    "set a node's sampling rate (CONFIG_SET)"),
    "pair": CommandSpec(Role.ADMIN, {"node": Arg(_STR, True), "port": Arg(_STR),
                                     "name": Arg(_STR), "replace": Arg((bool,))},
                        "provision a node key (replace: rotate a paired node's key)"),
    "forward.report": CommandSpec(
        Role.VIEW, {"connected": Arg((bool,), True), "outbox": Arg(_INT, True),
                    "last_error": Arg(_STR), "published": Arg(_INT), "gaps": Arg(_INT),
                    "broker": Arg(_STR), "client_id": Arg(_STR), "refused": Arg(_STR)},
        "the MQTT forwarder reports its state (shown in status and the TUI), and each "
        "inbound command it refused (refused: why; audited)"),
    "export": CommandSpec(Role.ADMIN, {"days": Arg(_NUM), "dest": Arg(_STR),
                                       "redact": Arg((bool,)), "estimate": Arg((bool,)),
                                       "since": Arg(_NUM), "until": Arg(_NUM),
                                       "sources": Arg(_LIST), "kinds": Arg(_LIST),
                                       "name": Arg(_STR)},
                          "write an evidence bundle (the last `days`, or since..until;"
                          " estimate: only its size)",
                          audit_as={"estimate": "export.estimate"}),
    "vehicles.list": CommandSpec(Role.OPS, {}, "the vehicle register"),
    "vehicles.add": CommandSpec(
        Role.ADMIN, {"plate": Arg(_STR, True), "list": Arg(_STR, True), "label": Arg(_STR),
                     "note": Arg(_STR), "priority": Arg(_STR), "replace": Arg((bool,))},
        "add a register entry (replace: overwrite the plate's entry)"),
    "vehicles.remove": CommandSpec(Role.ADMIN, {"plate": Arg(_STR, True)},
                                   "remove a register entry"),
    "vehicles.import": CommandSpec(Role.ADMIN, {"csv": Arg(_STR, True), "source": Arg(_STR)},
                                   "add or replace entries from CSV text, all or nothing"),
}

#: Commands the server answers itself.
SERVER_COMMANDS = frozenset({"subscribe", "unsubscribe"})


def audited_name(cmd: str, spec: CommandSpec, args: Mapping[str, Any]) -> str:
    """The action the audit log names for this request (pure)."""
    for flag, action in spec.audit_as.items():
        if args.get(flag) is True:
            return action
    return cmd


def check_args(cmd: str, spec: CommandSpec, args: Mapping[str, Any]) -> str | None:
    """`None` when `args` fit the spec, else the reason (pure)."""
    for name in args:
        if name not in spec.args:
            known = ", ".join(sorted(spec.args)) or "none"
            return f"{cmd}: unknown argument {name!r} (known: {known})"
    for name, arg in spec.args.items():
        if name not in args:
            if arg.required:
                return f"{cmd}: missing argument {name!r}"
            continue
        value = args[name]
        ok = isinstance(value, arg.types) and not (
            isinstance(value, bool) and bool not in arg.types
        )
        if not ok:
            wanted = " or ".join(t.__name__ for t in arg.types)
            return f"{cmd}: argument {name!r} must be {wanted}"
    return None


class ControlHandlers(Protocol):
    """What the service implements; each returns JSON-able data or raises CommandError.

    Binary data (history ciphertext) must be base64 text in the result.
    """

    async def status(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def alarms_ack(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def alarms_shelve(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def events_list(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def history_fetch(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def config_get(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def config_validate(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def config_apply(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def node_sample_rate(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def pair(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def export(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def vehicles_list(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def vehicles_add(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def vehicles_remove(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def vehicles_import(self, call: Call, args: dict[str, Any]) -> Any: ...
    async def forward_report(self, call: Call, args: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Command:
    name: str
    spec: CommandSpec
    handler: Handler | None  # None: served by the server itself


def command_table(handlers: ControlHandlers) -> dict[str, Command]:
    """Pair each command with its handler method (``alarms.ack`` -> ``alarms_ack``)."""
    table: dict[str, Command] = {}
    for name, spec in COMMAND_SPECS.items():
        if name in SERVER_COMMANDS:
            table[name] = Command(name, spec, None)
        else:
            table[name] = Command(name, spec, getattr(handlers, name.replace(".", "_")))
    return table
