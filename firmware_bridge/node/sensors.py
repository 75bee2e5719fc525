"""Simulated sensor physics and fault injection for the reference node.

A real board would read an SHT3x, an accelerometer and a reed switch here; the simulation
gives plausible, slowly varying values so the anomaly rules and the demo have something
to watch. Faults (spike, drift, stuck, dropout) are applied on top, each for a time window.
"""

import math

# channel id, name, unit, valid min, valid max
CHANNELS = {
    "temperature": (0, "temperature", "C", -40.0, 85.0),
    "humidity": (1, "humidity", "%", 0.0, 100.0),
    "vibration": (2, "vibration", "g", 0.0, 16.0),
    "door": (3, "door", "0/1", 0.0, 1.0),
}

FAULT_KINDS = ("spike", "drift", "stuck", "dropout", "garbage", "replay", "badsig", "unplug")


class Rng:
    """xorshift32: tiny, deterministic for a seed, identical on MicroPython and CPython."""

    def __init__(self, seed: int) -> None:
        self.state = (seed & 0xFFFFFFFF) or 0x9E3779B9

    def u32(self) -> int:
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def random(self) -> float:
        return self.u32() / 4294967296.0

    def gauss(self) -> float:
        # Irwin-Hall approximation: good enough for sensor noise, no log/sqrt needed
        return sum([self.random() for _ in range(12)]) - 6.0

    def bytes(self, n: int) -> bytes:
        return bytes([self.u32() & 0xFF for _ in range(n)])


class Fault:
    def __init__(self, kind: str, start_s: float, duration_s: "float | None") -> None:
        self.kind = kind
        self.start_s = start_s
        self.duration_s = duration_s

    def active(self, t_s: float) -> bool:
        if t_s < self.start_s:
            return False
        return self.duration_s is None or t_s < self.start_s + self.duration_s


def parse_fault(spec: str) -> Fault:
    """"KIND" (on from the start) or "KIND@START:DURATION" in seconds; ValueError if bad."""
    kind, _, window = spec.partition("@")
    if kind not in FAULT_KINDS:
        raise ValueError("unknown fault " + repr(kind) + " (known: " + ", ".join(FAULT_KINDS) + ")")
    if not window:
        return Fault(kind, 0.0, None)
    start, _, duration = window.partition(":")
    s = float(start)
    d = float(duration) if duration else None
    if s < 0 or (d is not None and d <= 0):
        raise ValueError("fault window must have START >= 0 and DURATION > 0")
    return Fault(kind, s, d)


class Faults:
    def __init__(self, faults: list) -> None:
        self.faults = faults

    def active(self, kind: str, t_s: float) -> bool:
        for f in self.faults:
            if f.kind == kind and f.active(t_s):
                return True
        return False

    def started_at(self, kind: str, t_s: float) -> float:
        for f in self.faults:
            if f.kind == kind and f.active(t_s):
                return f.start_s
        return t_s

    def active_names(self, t_s: float) -> str:
        names = []
        for f in self.faults:
            if f.active(t_s) and f.kind not in names:
                names.append(f.kind)
        return ",".join(names)


class Environment:
    """Physics of the four channels; `sample(t_s)` -> {name: value}."""

    def __init__(self, rng: Rng, faults: Faults) -> None:
        self.rng = rng
        self.faults = faults
        self.temp_walk = 0.0
        self.door = 0.0
        self.next_door_s = 20.0 + 40.0 * rng.random()
        self.last: dict = {}

    def sample(self, t_s: float) -> dict:
        if self.faults.active("stuck", t_s) and self.last:
            return dict(self.last)
        rng = self.rng
        self.temp_walk = 0.98 * self.temp_walk + 0.02 * rng.gauss()
        temp = 21.0 + 1.5 * math.sin(2 * math.pi * t_s / 600.0) + self.temp_walk
        temp += 0.03 * rng.gauss()
        humidity = 45.0 - 1.2 * (temp - 21.0) + 0.2 * rng.gauss()
        vibration = abs(0.02 + 0.005 * rng.gauss())
        if t_s >= self.next_door_s:
            self.door = 1.0 - self.door
            self.next_door_s = t_s + (5.0 if self.door else 30.0 + 60.0 * rng.random())
        if self.door:
            vibration += 0.3  # the door swinging shakes the frame
        if self.faults.active("drift", t_s):
            temp += 0.2 * (t_s - self.faults.started_at("drift", t_s))
        if self.faults.active("spike", t_s) and rng.random() < 0.2:
            temp += 30.0
            vibration += 5.0
        values = {
            "temperature": min(max(temp, -100.0), 200.0),
            "humidity": min(max(humidity, 0.0), 100.0),
            "vibration": vibration,
            "door": self.door,
        }
        self.last = dict(values)
        return values
