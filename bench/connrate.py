#!/usr/bin/env python3
"""Sequential TCP connections per second.

Usage: connrate.py serve PORT              accept forever; each connection gets one byte, and is closed once
                                           the client has closed it
       connrate.py client HOST PORT SECS   connect, read the byte, close, one after another for SECS seconds;
                                           prints the connections per second

The client closes with a reset (SO_LINGER 0) once it has its byte, so that no TIME_WAIT state is left on
either side: tens of thousands of connections a minute to one address would otherwise land on 4-tuples still
in TIME_WAIT (the server's), and stall for a SYN retransmission each.
"""

import socket
import struct
import sys
import time


def serve(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(128)
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"x")
            c.recv(1)
        except OSError:
            pass
        c.close()


def client(host, port, secs):
    n = 0
    linger = struct.pack("ii", 1, 0)
    t0 = time.perf_counter()
    end = t0 + secs
    while True:
        c = socket.create_connection((host, port), timeout=5)
        if c.recv(1) != b"x":
            sys.exit(f"connrate: {host}:{port} closed without the byte")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        c.close()
        n += 1
        now = time.perf_counter()
        if now >= end:
            break
    print(f"{n / (now - t0):.1f}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 5 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
