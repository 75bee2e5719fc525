"""Key store file modes and registry, the pairing exchange, and re-pair refusal."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from controller.sensors.keystore import KeyStore, KeystoreError, read_key_file
from firmware_bridge.frame import Frame, FrameDecoder
from firmware_bridge.messages import MsgType, PairDone
from firmware_bridge.pairing import PairingController, PairingError, PairingState
from firmware_bridge.signing import SecretKey, build_unsigned_frame

from .helpers import UID, Bench, MemHal

UIDHEX = UID.hex().upper()


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_keystore_modes_and_registry(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = SecretKey(os.urandom(32))
    assert store.add(UIDHEX, "door", key, "2026-01-01T00:00:00+00:00") is None
    assert mode(store.directory) == 0o700
    assert mode(store.directory / f"{UIDHEX}.key") == 0o600
    assert mode(store.registry_path) == 0o600
    assert store.load_key(UIDHEX) == key
    assert store.lookup(UIDHEX).name == "door"  # type: ignore[union-attr]
    assert not list(store.directory.glob(".*tmp"))  # no temp files left behind


def test_repair_refused_without_replace_and_says_what_it_replaces(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    k1, k2 = SecretKey(os.urandom(32)), SecretKey(os.urandom(32))
    store.add(UIDHEX, "door", k1, "t1")
    with pytest.raises(KeystoreError, match=r"already paired as 'door'.*--replace"):
        store.add(UIDHEX, "door", k2, "t2")
    assert store.load_key(UIDHEX) == k1  # nothing lost
    old = store.add(UIDHEX, "door", k2, "t2", replace=True)
    assert old is not None and old.paired_at == "t1"
    assert store.load_key(UIDHEX) == k2
    with pytest.raises(KeystoreError, match="already used"):
        store.add("00" * 8, "door", k1, "t3")


def test_open_key_dir_and_readable_key_file_are_refused(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    with pytest.raises(KeystoreError, match="open to others"):
        KeyStore(d).ensure_dir()
    f = tmp_path / "k.key"
    f.write_bytes(b"x" * 32)
    os.chmod(f, 0o644)
    with pytest.raises(KeystoreError, match="readable by others"):
        read_key_file(f)
    os.chmod(f, 0o600)
    f.write_bytes(b"short")
    with pytest.raises(KeystoreError, match="not a node key"):
        read_key_file(f)


def test_broken_registry_is_a_clear_error(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.registry_path.write_text("{not json")
    with pytest.raises(KeystoreError, match=r"registry\.json: not a valid node registry"):
        store.nodes()


def _pair_in_memory(hal: MemHal, key: SecretKey,
                    check: object = lambda uid: None) -> PairingController:
    from firmware_bridge.node.firmware import Node
    node = Node(hal)  # type: ignore[arg-type]
    ctrl = PairingController(key, check)  # type: ignore[arg-type]
    dec = FrameDecoder()
    for _ in range(200):
        node.poll()
        hal.sleep_ms(10)
        for item in dec.feed(hal.take()):
            step = ctrl.handle(item)
            for r in step.replies:
                hal.inbox += r
        if ctrl.state is PairingState.DONE:
            break
    return ctrl


def test_pairing_exchange_gives_the_node_the_key() -> None:
    hal = MemHal(None, pairing=True)
    key = SecretKey(os.urandom(32))
    ctrl = _pair_in_memory(hal, key)
    assert ctrl.state is PairingState.DONE and ctrl.uid == UIDHEX
    assert hal.key == key.reveal()
    assert hal.button is False  # one key per button press


def test_node_not_in_pairing_mode_is_not_paired() -> None:
    hal = MemHal(None, pairing=False)
    ctrl = _pair_in_memory(hal, SecretKey(os.urandom(32)))
    assert ctrl.state is PairingState.WAITING and hal.key is None


def test_already_paired_node_refused_before_it_gets_a_key() -> None:
    hal = MemHal(None, pairing=True)

    def refuse(uid: str) -> None:
        raise PairingError(f"node {uid} is already paired")

    with pytest.raises(PairingError, match="already paired"):
        _pair_in_memory(hal, SecretKey(os.urandom(32)), refuse)
    assert hal.key is None


def test_wrong_confirmation_detects_a_second_answerer() -> None:
    ctrl = PairingController(SecretKey(os.urandom(32)), lambda uid: None)
    req = build_unsigned_frame(UID, 0, MsgType.PAIR_REQUEST, b"n" * 16 + b"\x031.0", False)
    (f,) = FrameDecoder().feed(req)
    assert ctrl.handle(f).replies
    forged = build_unsigned_frame(UID, 0, MsgType.PAIR_DONE, PairDone(b"\x00" * 16).encode(),
                                  False)
    (g,) = FrameDecoder().feed(forged)
    assert isinstance(g, Frame)
    with pytest.raises(PairingError, match="different key"):
        ctrl.handle(g)


def test_paired_node_then_opens_a_session() -> None:
    b = Bench(None, None)
    b.hal.button = True
    b.node.boot()
    key = SecretKey(os.urandom(32))
    hal = b.hal
    ctrl = PairingController(key, lambda uid: None)
    for _ in range(100):
        b.node.poll()
        hal.sleep_ms(10)
        for item in FrameDecoder().feed(hal.take()):
            for r in ctrl.handle(item).replies:
                hal.inbox += r
        if ctrl.state is PairingState.DONE:
            break
    from firmware_bridge.session import NodeSession
    b.session = NodeSession(UID, key, os.urandom)
    b.run(3.0)  # the first HELLO went to the pairing loop; the retry comes within 2 s
    assert len(b.readings()) > 0
