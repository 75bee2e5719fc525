"""Who is calling, and what they may do: SO_PEERCRED identity mapped to a role.

The kernel tells us the peer's uid, gid and pid (SO_PEERCRED, captured at connect time,
so a client cannot lie). Unix groups give the role, highest wins:
``edgewarden-view`` < ``edgewarden-ops`` < ``edgewarden-admin``; root is always admin.
Group membership is read from the user database (``os.getgrouplist`` of the uid's name
and the peer's gid) at connect time, so removing someone from a group takes effect on
their next connection without a re-login.
"""

from __future__ import annotations

import contextlib
import enum
import grp
import os
import pwd
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from controller.config import ControlConfig


class Role(enum.IntEnum):
    """Ordered roles: a higher role may do everything a lower one may.

    `NONE` is only what a client holds before the service has told it a role; the server
    never grants it (no access is `None` from `role_for`, and the connection is refused)."""

    NONE = 0
    VIEW = 1
    OPS = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: object) -> Role:
        """A role by its label ("ops", as `status` names it); anything else is NONE."""
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        return cls.NONE

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class PeerCred:
    """The connecting process as the kernel reports it."""

    pid: int
    uid: int
    gid: int


_UCRED = struct.Struct("3i")


def peer_credentials(sock: socket.socket) -> PeerCred:
    """SO_PEERCRED of a connected AF_UNIX socket (Linux)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCred(pid=pid, uid=uid, gid=gid)


@dataclass(frozen=True)
class RoleGroups:
    """The gids of the three role groups; `None` where the group does not exist."""

    view: int | None
    ops: int | None
    admin: int | None


def role_for(uid: int, gids: Iterable[int], groups: RoleGroups) -> Role | None:
    """The highest role the uid/groups earn; `None` means no access at all (pure)."""
    if uid == 0:
        return Role.ADMIN
    member = set(gids)
    for role, gid in ((Role.ADMIN, groups.admin), (Role.OPS, groups.ops),
                      (Role.VIEW, groups.view)):
        if gid is not None and gid in member:
            return role
    return None


def _gid_of(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def _user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


class RoleResolver:
    """Maps a :class:`PeerCred` to a :class:`Role` using the system's user database.

    The lookups are injectable so the mapping can be tested without touching /etc/group.
    """

    def __init__(
        self,
        cfg: ControlConfig,
        *,
        gid_of: Callable[[str], int | None] = _gid_of,
        user_name: Callable[[int], str | None] = _user_name,
        grouplist: Callable[[str, int], list[int]] = os.getgrouplist,
    ) -> None:
        self.cfg = cfg
        self._gid_of = gid_of
        self._user_name = user_name
        self._grouplist = grouplist

    def role_groups(self) -> RoleGroups:
        return RoleGroups(
            view=self._gid_of(self.cfg.view_group),
            ops=self._gid_of(self.cfg.ops_group),
            admin=self._gid_of(self.cfg.admin_group),
        )

    def groups_of(self, peer: PeerCred) -> set[int]:
        """The peer's gid plus the supplementary groups of its uid's account."""
        gids = {peer.gid}
        name = self._user_name(peer.uid)
        if name is not None:
            with contextlib.suppress(OSError):
                gids.update(self._grouplist(name, peer.gid))
        return gids

    def resolve(self, peer: PeerCred) -> Role | None:
        return role_for(peer.uid, self.groups_of(peer), self.role_groups())

    def no_role_reason(self, peer: PeerCred) -> str:
        c = self.cfg
        return (f"uid {peer.uid} is in none of the groups {c.view_group}, {c.ops_group}, "
                f"{c.admin_group}")
