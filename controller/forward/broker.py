"""The broker connection's settings from `[forward]` and one-line reasons for failures.

The password comes from `password_file`, which must be mode 0600 (or stricter) and
owned by the forwarder's user: a looser file is refused, not read.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import paho.mqtt.client as mqtt
from aiomqtt.exceptions import MqttConnectError

from controller.config import ForwardConfig
from controller.config.schema import FORWARD_URL
from controller.errors import UsageError
from controller.forward.topics import Topics

# paho's own chatter (pending publish calls, ...) is not what the journal needs: the
# forwarder logs one line per problem itself
_PAHO_LOG = logging.getLogger("controller.forward.paho")
_PAHO_LOG.setLevel(logging.CRITICAL)


class BrokerConfigError(UsageError):
    """`[forward]` cannot give a connection: no url, an unreadable or loose secret."""


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool
    client_id: str
    username: str | None
    password: str | None
    ca_file: Path | None
    client_cert: Path | None
    client_key: Path | None
    keepalive: int

    @property
    def address(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def client(self, topics: Topics, protocol: aiomqtt.ProtocolVersion,
               timeout: float = 10.0, *, probe: bool = False) -> aiomqtt.Client:
        """An unconnected client with the last will `offline` (retained) on availability;
        a `probe` (doctor) has its own client id and no will, so it disturbs nothing."""
        tls = None
        if self.tls:
            tls = aiomqtt.TLSParameters(
                ca_certs=str(self.ca_file) if self.ca_file else None,
                certfile=str(self.client_cert) if self.client_cert else None,
                keyfile=str(self.client_key) if self.client_key else None,
                cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        return aiomqtt.Client(
            self.host, self.port, username=self.username, password=self.password,
            identifier=f"{self.client_id}-doctor" if probe else self.client_id,
            protocol=protocol, keepalive=self.keepalive,
            will=None if probe else aiomqtt.Will(topics.availability, b"offline", qos=1,
                                                 retain=True),
            tls_params=tls, timeout=timeout, logger=_PAHO_LOG)


def read_password(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise BrokerConfigError(f"forward.password_file {path}: cannot open "
                                f"({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise BrokerConfigError(f"forward.password_file {path}: not a regular file")
        if st.st_mode & 0o077:
            raise BrokerConfigError(
                f"forward.password_file {path}: mode {st.st_mode & 0o777:04o} lets others "
                f"read it; chmod 600 {path}")
        data = os.read(fd, 4096)
    finally:
        os.close(fd)
    return data.decode("utf-8").strip("\r\n")


def settings_from(cfg: ForwardConfig, device: str) -> BrokerSettings:
    if not cfg.url:
        raise BrokerConfigError("forward.url is not set: the [forward] section needs "
                                "url = \"mqtt://host:1883\" (or mqtts://host:8883)")
    m = FORWARD_URL.match(cfg.url)
    assert m is not None  # the schema checked it
    tls = m.group(1) == "mqtts"
    host = m.group(2).strip("[]")
    port = int(m.group(3)) if m.group(3) else (8883 if tls else 1883)
    password = read_password(cfg.password_file) if cfg.password_file else None
    for name in ("ca_file", "client_cert", "client_key"):
        p = getattr(cfg, name)
        if p is not None and not os.access(p, os.R_OK):
            raise BrokerConfigError(f"forward.{name} {p}: cannot read it")
    return BrokerSettings(
        host=host, port=port, tls=tls,
        client_id=cfg.client_id or f"edgewarden-forward-{device}",
        username=cfg.username or None, password=password, ca_file=cfg.ca_file,
        client_cert=cfg.client_cert, client_key=cfg.client_key, keepalive=cfg.keepalive_s)


def describe_failure(settings: BrokerSettings, exc: BaseException) -> str:
    """One line saying why the broker could not be used (never the password)."""
    where = settings.address
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, MqttConnectError):  # the broker's CONNACK said no
        rc = exc.rc
        value = getattr(rc, "value", rc)
        if value in (4, 5, 134, 135):
            who = f"user {settings.username!r}" if settings.username else "anonymous clients"
            return f"broker {where} refused the credentials of {who} ({rc})"
        return f"broker {where} refused the connection: {exc}"
    for err in (exc, cause):
        if isinstance(err, ssl.SSLCertVerificationError):
            return (f"broker {where}: its certificate does not verify against "
                    f"{settings.ca_file or 'the system CAs'}: {err.verify_message}")
        if isinstance(err, ssl.SSLError):
            return f"broker {where}: TLS failed: {err.reason or err}"
        if isinstance(err, socket.gaierror):
            return f"broker {where}: cannot resolve host {settings.host!r} ({err.strerror})"
        if isinstance(err, ConnectionRefusedError):
            return f"broker {where}: connection refused (is the broker running there?)"
        if isinstance(err, OSError) and err.strerror:
            return f"broker {where}: {err.strerror}"
    if isinstance(exc, aiomqtt.MqttCodeError) and isinstance(exc.rc, int):
        return f"broker {where}: connection lost ({mqtt.error_string(exc.rc)})"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"broker {where}: {text}"


def protocol_unsupported(exc: BaseException) -> bool:
    """The broker does not speak MQTT 5 (so retry with 3.1.1)."""
    return isinstance(exc, MqttConnectError) and getattr(exc.rc, "value", exc.rc) in (1, 132)


async def probe(settings: BrokerSettings, topics: Topics, timeout: float = 5.0) -> str | None:
    """Connect once with the forwarder's settings: None when it works, else the reason."""
    protocol = aiomqtt.ProtocolVersion.V5
    for _ in range(2):
        try:
            async with settings.client(topics, protocol, timeout, probe=True):
                return None
        except aiomqtt.MqttError as exc:
            if protocol == aiomqtt.ProtocolVersion.V5 and protocol_unsupported(exc):
                protocol = aiomqtt.ProtocolVersion.V311
                continue
            return describe_failure(settings, exc)
    return None
