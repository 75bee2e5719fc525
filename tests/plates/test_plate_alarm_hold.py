"""A listed vehicle's alarm stays active while it is seen again, then returns to normal."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, cast

from controller.anomaly.desk import AlarmDesk
from controller.service.plate_records import desk_alarm

CHANNEL = "camera/gate/plates/watch/high"


class RecordingDesk:
    """The one call the plate alarms make on the desk, recorded with its arguments."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []

    def observe(self, channel: str, t: float, value: float) -> None:
        assert channel == CHANNEL
        self.seen.append((channel, value))


async def sightings(gaps: list[float], hold_s: float, after: float) -> list[float]:
    """The values the desk saw for reads `gaps` seconds apart (raised from a plate
    thread, as the service does), and `after` seconds past the last."""
    loop = asyncio.get_running_loop()
    desk = RecordingDesk()
    raise_alarm = desk_alarm(loop, lambda: cast(AlarmDesk, desk), hold_s=hold_s)
    for gap in gaps:
        await asyncio.sleep(gap)
        thread = threading.Thread(target=raise_alarm, args=(CHANNEL, loop.time()))
        thread.start()
        thread.join()
    await asyncio.sleep(after)
    return [value for _, value in desk.seen]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_reads_within_the_hold_keep_one_alarm_active() -> None:
    # three reads of one visit, each well inside the hold: active throughout, no clear
    assert run(sightings([0, 0.05, 0.05], hold_s=0.5, after=0.1)) == [1.0, 1.0, 1.0]


def test_the_alarm_returns_to_normal_once_the_vehicle_is_gone() -> None:
    assert run(sightings([0], hold_s=0.1, after=0.3)) == [1.0, 0.0]


def test_a_later_visit_is_a_new_alarm() -> None:
    # cleared after the first visit, raised again by the second
    assert run(sightings([0, 0.4], hold_s=0.1, after=0.3)) == [1.0, 0.0, 1.0, 0.0]
