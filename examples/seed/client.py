#!/usr/bin/env python3
"""The walkthrough's echo client, ported to Python 3.

Sends its data with sendto(MSG_FASTOPEN), so the data rides in the SYN when
a cookie for the server is cached, and prints the reply.

    python3 examples/seed/client.py HOST [--port 8000] [--data hello!]
"""
import argparse
import socket


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--data", default="hello!")
    args = ap.parse_args()
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.sendto(args.data.encode(), socket.MSG_FASTOPEN, (args.host, args.port))
    chunks = []
    while True:
        b = s.recv(1000)
        if not b:
            break
        chunks.append(b)
    s.close()
    print(b"".join(chunks).decode(errors="replace"))


if __name__ == "__main__":
    main()
