#!/usr/bin/env python3
"""Generations in flight on this host, as StatsD gauges for the CloudWatch agent. Ollama exposes
no queue counter, but a request it runs or queues holds its HTTP connection until the answer ends
(streamed or not). Open WebUI keeps idle connections to Ollama open for reuse, so an open
connection alone is not a request: the kernel's statistics of each connection to Ollama's port
(sock_diag over netlink, what `ss -ti` shows) tell the two apart. A connection is in flight when
Ollama received a request and has sent nothing on it yet (a new connection, queued or before its
first token), or received a request after the last data it sent (a reused one), or sent data
within the last ACTIVE_MS (streaming); an idle pooled connection last sent a finished answer,
longer ago.

Samples every SAMPLE seconds and sends, for each INTERVAL, the mean (METRIC), the maximum
(METRIC_max) and the mean as a percentage of what the host admits at once (METRIC_percent: SLOTS
is the gate's capacity on a fleet host, or Ollama's NUM_PARALLEL; it differs per instance type,
so one target fits a fleet of mixed types) to STATSD. Standard library only; runs as its own
unprivileged user.

    OLLAMA_PORT=<Ollama's port> SLOTS=8 STATSD=127.0.0.1:8125 METRIC=ollama_generations_in_flight \\
        INTERVAL=10 SAMPLE=1 ACTIVE_MS=1000 ollama_in_flight.py
    ollama_in_flight.py --once      print the current count and exit
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import time

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
TCP_ESTABLISHED = 1
INET_DIAG_INFO = 2
# struct tcp_info (linux/tcp.h): eight u8 fields, then u32s - among them the milliseconds since
# the last data sent and received -, then u64s - among them the bytes sent (and acknowledged) and
# received on the connection (Linux 4.1 and later).
LAST_DATA_SENT, LAST_DATA_RECV, BYTES_ACKED, BYTES_RECEIVED = 44, 52, 120, 128
HEADER = struct.Struct("=IHHII")  # nlmsghdr
REQUEST = struct.Struct("=BBBxI48x")  # inet_diag_req_v2 (family, protocol, ext, states, id)
MESSAGE = 72  # inet_diag_msg: family, state, timer, retrans, sockid (48), 5 x u32


Connection = tuple[int, int, int, int]  # ms since sent, ms since received, bytes sent, received


def connections(port: int) -> list[Connection]:
    """What the kernel knows of every established TCP connection whose local port is `port`,
    IPv4 and IPv6."""
    found: list[Connection] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as diag:
        for family in (socket.AF_INET, socket.AF_INET6):
            body = REQUEST.pack(family, socket.IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1),
                                1 << TCP_ESTABLISHED)  # fmt: skip
            diag.send(HEADER.pack(HEADER.size + len(body), SOCK_DIAG_BY_FAMILY,
                                  NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body)  # fmt: skip
            found += replies(diag, port)
    return found


def replies(diag: socket.socket, port: int) -> list[Connection]:
    found: list[Connection] = []
    while True:
        data = diag.recv(1 << 16)
        offset = 0
        while offset + HEADER.size <= len(data):
            length, kind, _, _, _ = HEADER.unpack_from(data, offset)
            if kind == NLMSG_DONE:
                return found
            if kind == NLMSG_ERROR:
                raise OSError("sock_diag refused the request")
            message = data[offset + HEADER.size : offset + length]
            if struct.unpack_from("!H", message, 4)[0] == port:  # the socket's local port
                info = attribute(message[MESSAGE:], INET_DIAG_INFO)
                if len(info) >= BYTES_RECEIVED + 8:
                    found.append((
                        struct.unpack_from("=I", info, LAST_DATA_SENT)[0],
                        struct.unpack_from("=I", info, LAST_DATA_RECV)[0],
                        struct.unpack_from("=Q", info, BYTES_ACKED)[0],
                        struct.unpack_from("=Q", info, BYTES_RECEIVED)[0],
                    ))  # fmt: skip
            offset += (length + 3) & ~3
        if not data:
            return found


def attribute(attributes: bytes, wanted: int) -> bytes:
    """One netlink attribute's payload (rtattr: u16 length, u16 type, data padded to 4)."""
    offset = 0
    while offset + 4 <= len(attributes):
        length, kind = struct.unpack_from("=HH", attributes, offset)
        if length < 4:
            break
        if kind == wanted:
            return attributes[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return b""


def in_flight(port: int, active_ms: int) -> int:
    return sum(
        1
        for since_sent, since_received, bytes_sent, bytes_received in connections(port)
        if bytes_received
        and (not bytes_sent or since_received < since_sent or since_sent < active_ms)
    )


def setting(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def main(argv: list[str]) -> int:
    if not os.environ.get("OLLAMA_PORT", "").isdigit():
        print("OLLAMA_PORT (Ollama's port, a number) is required", file=sys.stderr)
        return 2
    port = int(os.environ["OLLAMA_PORT"])
    active_ms = int(setting("ACTIVE_MS", "1000"))
    if "--once" in argv:
        print(in_flight(port, active_ms))
        return 0
    host, _, statsd_port = setting("STATSD", "127.0.0.1:8125").rpartition(":")
    interval, every = float(setting("INTERVAL", "10")), float(setting("SAMPLE", "1"))
    slots = int(setting("SLOTS", "4"))
    if not (0 < every <= interval) or slots < 1:
        print(f"SAMPLE ({every}) must be above 0 and at most INTERVAL ({interval}), SLOTS ({slots})"
              " 1 or more", file=sys.stderr)  # fmt: skip
        return 2
    metric = setting("METRIC", "ollama_generations_in_flight")
    target = (host, int(statsd_port))
    sender = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    while True:
        samples = []
        ends = time.monotonic() + interval
        while time.monotonic() < ends:
            samples.append(in_flight(port, active_ms))
            time.sleep(every)
        mean = sum(samples) / len(samples)
        payload = (
            f"{metric}:{mean:.2f}|g\n{metric}_max:{max(samples)}|g\n"
            f"{metric}_percent:{100 * mean / slots:.1f}|g\n"
        ).encode()
        try:
            sender.sendto(payload, target)
        except OSError as error:  # the agent restarting: the next interval tries again
            print(f"could not send to {host}:{statsd_port}: {error}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
