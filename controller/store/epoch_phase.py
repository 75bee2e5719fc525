"""Where the writer is in an epoch's life (pure): each step follows only its durable write.

An epoch rollover is three durable writes: the end seal (a commit), the evolved sealing
key (`seal.key`, the old key erased), the next epoch's row with its wrapped data key (a
commit). If one of them fails (a full disk), the writer stays in the phase of the last
write that succeeded and resumes from there, so it never seals with the wrong key, never
writes a second end seal, and never writes records into an ended epoch.
"""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    OPEN = "open"  # the epoch's row and data key are durable: records may be written
    ENDED = "ended"  # its end seal is durable: no record may join it; the key still exists
    EVOLVED = "evolved"  # the next sealing key is durable and the old one erased


class Step(enum.Enum):
    END_SEALED = "end sealed"
    KEY_EVOLVED = "key evolved"
    EPOCH_OPENED = "epoch opened"


_TABLE: dict[tuple[Phase, Step], Phase] = {
    (Phase.OPEN, Step.END_SEALED): Phase.ENDED,
    (Phase.ENDED, Step.KEY_EVOLVED): Phase.EVOLVED,
    (Phase.EVOLVED, Step.EPOCH_OPENED): Phase.OPEN,
}

#: The write that moves each phase on, in rollover order.
NEXT_STEP: dict[Phase, Step] = {
    Phase.OPEN: Step.END_SEALED,
    Phase.ENDED: Step.KEY_EVOLVED,
    Phase.EVOLVED: Step.EPOCH_OPENED,
}


class IllegalStep(RuntimeError):
    """A step out of order: a bug in the writer, never a user error."""


def after(phase: Phase, step: Step) -> Phase:
    """The phase once `step`'s write is durable; IllegalStep when it cannot follow `phase`."""
    try:
        return _TABLE[(phase, step)]
    except KeyError:
        raise IllegalStep(f"{step.value} cannot follow phase {phase.value}") from None
