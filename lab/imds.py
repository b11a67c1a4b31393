"""The lab's instance metadata service: IMDSv2 as the launch template configures it (tokens
required, instance tags enabled), for the lab host that asks - found in the lab's EC2 API by the
address the request comes from, as EC2 answers each instance about itself. What a host that
configures itself reads (tools/host_apply.py points at it through the AWS SDK's
AWS_EC2_METADATA_SERVICE_ENDPOINT, which botocore honours too)."""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"


class Metadata:
    """Tokens and the instances' answers; instance_for(address) asks the EC2 API."""

    def __init__(self, instance_for: Callable[[str], dict[str, Any] | None]) -> None:
        self.instance_for = instance_for
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (address, expiry)
        self.lock = threading.Lock()

    def token(self, address: str, ttl: int) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (address, time.monotonic() + ttl)
        return token

    def valid(self, token: str, address: str) -> bool:
        with self.lock:
            owner, expiry = self.tokens.get(token, ("", 0.0))
        return owner == address and time.monotonic() < expiry

    def answer(self, path: str, address: str) -> str | None:
        instance = self.instance_for(address)
        if instance is None:
            return None
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        zone = instance["Placement"]["AvailabilityZone"]
        document = {
            "instanceId": instance["InstanceId"],
            "instanceType": instance["InstanceType"],
            "imageId": instance["ImageId"],
            "privateIp": instance.get("PrivateIpAddress", address),
            "availabilityZone": zone,
            "region": zone[:-1],
            "accountId": "123456789012",
        }
        visible = {k: v for k, v in tags.items() if not k.startswith("aws:")}
        answers = {
            "dynamic/instance-identity/document": json.dumps(document),
            "meta-data/instance-id": document["instanceId"],
            "meta-data/placement/availability-zone": zone,
            "meta-data/tags/instance": "\n".join(sorted(visible)),
            **{f"meta-data/tags/instance/{k}": v for k, v in visible.items()},
        }
        return answers.get(path.strip("/"))


def handler(metadata: Metadata) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def reply(self, status: int, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            ttl = self.headers.get(TTL_HEADER, "")
            if self.path != "/latest/api/token" or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                self.reply(400)
                return
            self.reply(200, metadata.token(self.client_address[0], int(ttl)))

        def do_GET(self) -> None:
            address = self.client_address[0]
            if not metadata.valid(self.headers.get(TOKEN_HEADER, ""), address):
                self.reply(401)  # IMDSv2 only: no token, no answer
                return
            found = metadata.answer(self.path.removeprefix("/latest/"), address)
            if found is None:
                self.reply(404)
            else:
                self.reply(200, found)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def ec2_lookup(ec2: Any) -> Callable[[str], dict[str, Any] | None]:
    """The running instance at an address, from the lab's EC2 API."""

    def instance_for(address: str) -> dict[str, Any] | None:
        found = ec2.describe_instances(
            Filters=[
                {"Name": "private-ip-address", "Values": [address]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )
        instances = [i for r in found["Reservations"] for i in r["Instances"]]
        return instances[0] if instances else None

    return instance_for


def serve(host: str, port: int, ec2: Any) -> ThreadingHTTPServer:
    """Start answering on host:port in a thread; returns the server (shutdown() stops it)."""
    server = ThreadingHTTPServer((host, port), handler(Metadata(ec2_lookup(ec2))))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.imds", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--endpoint", required=True, help="the lab's EC2 API")
    args = parser.parse_args()
    from lab.ec2 import ec2_client

    server = ThreadingHTTPServer(
        (args.host, args.port), handler(Metadata(ec2_lookup(ec2_client(args.endpoint))))
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
