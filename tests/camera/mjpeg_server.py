"""A minimal MJPEG-over-HTTP camera on 127.0.0.1, run as its own process so a test can
SIGSTOP it (a hung stream) and SIGCONT it (the stream comes back).

``python -m tests.camera.mjpeg_server PORTFILE``: binds an ephemeral port on 127.0.0.1,
writes it to PORTFILE and serves ``multipart/x-mixed-replace`` JPEG frames at 10 fps.
"""

from __future__ import annotations

import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import cv2
import numpy as np

BOUNDARY = "frame"


def _jpeg(i: int) -> bytes:
    image = np.zeros((120, 160, 3), np.uint8)
    cv2.putText(image, str(i), (10, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return bytes(data)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.end_headers()
        i = 0
        try:
            while True:
                data = _jpeg(i)
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                 f"Content-Length: {len(data)}\r\n\r\n".encode())
                self.wfile.write(data + b"\r\n")
                self.wfile.flush()
                i += 1
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            return

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    with _Server(("127.0.0.1", 0), _Handler) as server:
        Path(sys.argv[1]).write_text(str(server.server_address[1]))
        server.serve_forever()


if __name__ == "__main__":
    main()
