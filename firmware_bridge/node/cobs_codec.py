"""Pure-Python COBS for the node: MicroPython has no C extensions, so no `cobs` package.

Byte-for-byte compatible with the controller's `cobs` package (cross-tested).
"""


def encode(data: bytes) -> bytes:
    out = bytearray(b"\x00")
    code_at = 0
    code = 1
    n = len(data)
    for i in range(n):
        b = data[i]
        if b == 0:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
            continue
        out.append(b)
        code += 1
        if code == 0xFF and i + 1 < n:
            out[code_at] = code
            code_at = len(out)
            out.append(0)
            code = 1
    out[code_at] = code
    return bytes(out)


def decode(data: bytes) -> bytes:
    """Inverse of :func:`encode`; raises ValueError on invalid stuffing."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise ValueError("zero byte inside COBS data")
        end = i + code
        if end > n:
            raise ValueError("COBS block runs past the end")
        block = data[i + 1 : end]
        if 0 in block:
            raise ValueError("zero byte inside COBS data")
        out += block
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)
