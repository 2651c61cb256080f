#!/usr/bin/env python3
"""Dump this namespace's links, addresses, routes, neighbours, bridge FDB and nsids over
rtnetlink, one seed file per datagram (whole messages, ~4 KB at most): what the collector's
socket receives. Read-only dump requests."""
import os
import socket
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
REQUESTS = [
    (18, "link", struct.pack("BxHiII", 0, 0, 0, 0, 0)),     # RTM_GETLINK, ifinfomsg
    (22, "addr", struct.pack("BBBBI", 0, 0, 0, 0, 0)),      # RTM_GETADDR, ifaddrmsg
    (26, "route", struct.pack("8BI", 0, 0, 0, 0, 0, 0, 0, 0, 0)),  # RTM_GETROUTE, rtmsg
    (30, "neigh", struct.pack("BxxxiHBB", 0, 0, 0, 0, 0)),  # RTM_GETNEIGH, ndmsg
    (30, "fdb", struct.pack("BxxxiHBB", 7, 0, 0, 0, 0)),    # AF_BRIDGE
    (90, "nsid", struct.pack("B3x", 0)),                    # RTM_GETNSID, rtgenmsg
]
n = 0
for kind, name, body in REQUESTS:
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 0))
    s.send(struct.pack("IHHII", 16 + len(body), kind, 0x301, 1, 0) + body)
    done = False
    while not done:
        d = s.recv(65536)
        off, chunk = 0, b""
        while off + 16 <= len(d):
            length, typ = struct.unpack_from("IH", d, off)
            if typ in (2, 3) or length < 16:
                done = True
                break
            if chunk and len(chunk) + length > 4096:
                open(f"{out}/{name}{n}", "wb").write(chunk)
                n, chunk = n + 1, b""
            step = (length + 3) & ~3
            chunk += d[off:off + step]
            off += step
        if chunk:
            open(f"{out}/{name}{n}", "wb").write(chunk)
            n += 1
    s.close()
