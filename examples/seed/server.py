#!/usr/bin/env python3
"""The walkthrough's echo server, ported to Python 3.

Listens with TCP Fast Open (queue 5), answers the first read of each
connection with the same bytes and closes it.

    python3 examples/seed/server.py [--host 0.0.0.0] [--port 8000]
"""
import argparse
import socket


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 5)
    srv.bind((args.host, args.port))
    srv.listen(10)
    print("listening on %s:%d" % (args.host, args.port), flush=True)
    try:
        while True:
            conn, _ = srv.accept()
            with conn:
                data = conn.recv(2048)
                if data:
                    conn.sendall(data)
                    print(data.decode(errors="replace"), flush=True)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
