"""MicroPython entry point for an RP2040 board (e.g. a Raspberry Pi Pico).

Install: copy this folder to the board as /lib/ewnode/ and this file as /main.py
(`mpremote cp -r firmware_bridge/node :lib/ewnode && mpremote cp
firmware_bridge/node/main.py :main.py`). Wiring: UART0 TX=GP0 RX=GP1 to the controller's
USB-serial adapter; pairing button between GP15 and GND (hold it while powering up).
"""

import os
import time

import machine
from ewnode.firmware import Hal, Node  # type: ignore[import-not-found]

KEY_PATH = "/node.key"


class Rp2040Hal(Hal):
    def __init__(self) -> None:
        self.uart = machine.UART(0, baudrate=921600, tx=machine.Pin(0), rx=machine.Pin(1),
                                 rxbuf=2048, txbuf=2048)
        self.button = machine.Pin(15, machine.Pin.IN, machine.Pin.PULL_UP)

    def ticks_ms(self) -> int:
        return time.ticks_ms()  # type: ignore[attr-defined]

    def ticks_diff(self, a: int, b: int) -> int:
        return time.ticks_diff(a, b)  # type: ignore[attr-defined]

    def sleep_ms(self, ms: int) -> None:
        time.sleep_ms(ms)  # type: ignore[attr-defined]

    def urandom(self, n: int) -> bytes:
        return os.urandom(n)

    def read(self) -> bytes:
        n = self.uart.any()
        return self.uart.read(n) if n else b""

    def write(self, data: bytes) -> None:
        self.uart.write(data)

    def pairing_button(self) -> bool:
        return self.button.value() == 0

    def load_key(self) -> "bytes | None":
        try:
            with open(KEY_PATH, "rb") as f:
                key = f.read()
        except OSError:
            return None
        return key if len(key) == 32 else None

    def store_key(self, key: bytes) -> None:
        with open(KEY_PATH + ".tmp", "wb") as f:
            f.write(key)
        os.rename(KEY_PATH + ".tmp", KEY_PATH)

    def unique_id(self) -> bytes:
        return machine.unique_id()[:8]

    def reset(self) -> None:
        machine.reset()


def main() -> None:
    Node(Rp2040Hal(), rate_hz=1.0).run_forever()


main()
