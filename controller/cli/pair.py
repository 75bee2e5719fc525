"""`edgewarden pair`: provision a key to a sensor node in pairing mode."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from controller.config import Config, load_config
from controller.control.address import socket_path
from controller.control.client import ControlClient, ControlError, ServiceUnavailable
from controller.control.schema import Paired
from controller.errors import EdgewardenError
from controller.sensors.keystore import KeyStore, KeystoreError
from controller.service.handlers import PAIR_TIMEOUT_S
from firmware_bridge.pairing import PairingError, pair_over_serial
from firmware_bridge.signing import KEY_LEN, SecretKey


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pair",
        help="provision a key to a sensor node in pairing mode",
        description="Give a fresh random key to the node on PORT, which must be in pairing "
        "mode (pairing button held at power-up). The key is stored 0600 in the key "
        "directory and the node uid is recorded in its registry.json. When the service "
        "runs and reads PORT, it does the pairing itself and takes the key at once.",
    )
    p.add_argument("port", metavar="PORT", help="serial port of the node")
    p.add_argument("--name", help="name for the node (default: node-<uid>)")
    p.add_argument("--keys-dir", type=Path, help="key directory (default: serial.keys_dir)")
    p.add_argument("--config", type=Path, help="config file (default: built-in defaults)")
    p.add_argument("--replace", action="store_true",
                   help="allow giving an already paired node a new key (says what it replaces)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for the node (default 30)")
    p.add_argument("--baudrate", type=int, default=921_600)
    p.set_defaults(handler=run)


def _through_service(args: argparse.Namespace, cfg: Config, console: Console) -> int | None:
    """Pair through the running service when it reads PORT: two readers of one port would
    steal each other's frames, and the service takes the new key at once this way. None
    when the service is not running or does not read PORT."""
    if not any(n.port == args.port for n in cfg.serial.nodes):
        return None
    if args.keys_dir is not None and Path(args.keys_dir) != Path(cfg.serial.keys_dir):
        return None
    try:
        client = ControlClient(socket_path(cfg), timeout=PAIR_TIMEOUT_S + 5.0).connect()
    except ServiceUnavailable:
        return None
    request: dict[str, object] = {"node": args.name or args.port, "port": args.port,
                                  "replace": bool(args.replace)}
    if args.name:
        request["name"] = args.name
    try:
        with client, console.status(f"the service is pairing the node on {args.port} ..."):
            done = client.ask("pair", Paired, request)
    except ControlError as exc:
        raise EdgewardenError(str(exc)) from None
    if done.replaced_key:
        console.print(f"replaced key {done.replaced_key} of node {done.uid}")
    print(f"paired node {done.uid} as {done.node!r} through the running service "
          f"(it takes the key at once)")
    return 0


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    console = Console(stderr=True)
    served = _through_service(args, cfg, console)
    if served is not None:
        return served
    store = KeyStore(args.keys_dir or cfg.serial.keys_dir)
    chosen: dict[str, str] = {}

    def check(uid: str) -> None:
        name = args.name or f"node-{uid}"
        chosen["name"] = name
        try:
            store.check_can_pair(uid, name, args.replace)
        except KeystoreError as exc:
            raise PairingError(str(exc)) from None

    try:
        store.ensure_dir()
        key = SecretKey(os.urandom(KEY_LEN))
        with console.status(f"waiting for a node in pairing mode on {args.port} ..."):
            paired = pair_over_serial(args.port, key, check, args.timeout, args.baudrate)
        replaced = store.add(paired.uid, chosen["name"], key,
                             datetime.now(UTC).isoformat(timespec="seconds"),
                             replace=args.replace)
    except (PairingError, KeystoreError) as exc:
        raise EdgewardenError(str(exc)) from None
    if replaced is not None:
        console.print(f"replaced key {replaced.fingerprint} of node {replaced.uid} "
                      f"({replaced.name!r}, paired {replaced.paired_at})")
    rec = store.lookup(paired.uid)
    assert rec is not None
    print(f"paired node {rec.uid} as {rec.name!r} (firmware {paired.firmware_version}, "
          f"key {rec.fingerprint}) -> {store.directory / rec.key_file}")
    return 0
