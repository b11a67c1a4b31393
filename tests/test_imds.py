"""The lab's IMDSv2 stand-in (lab/imds.py) as a host reads it through tools/host_apply.py: a
token first (no token, no answer), then the asking instance's identity and tags - the instance
the lab's EC2 API (moto) holds at the address the request comes from."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from lab.ec2 import free_port, run_tagged_instance
from lab.imds import serve
from tools.host_apply import identity


@pytest.fixture
def imds(ec2: Any) -> Iterator[str]:
    server = serve("127.0.0.1", free_port(), ec2)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_host_reads_its_own_identity_and_tags_with_a_token(ec2: Any, imds: str) -> None:
    mine = run_tagged_instance(
        ec2,
        name="llm-fleet-lab-gpu-node",
        role="gpu-node",
        instance_type="g5.xlarge",
        zone="us-east-1b",
        environment="lab",
        extra_tags={"aws:autoscaling:groupName": "hidden-from-imds"},
        private_ip="127.0.0.1",
    )
    who = identity(imds)
    assert who.instance_id == mine["InstanceId"] and who.region == "us-east-1"
    assert who.tags == {
        "Name": "llm-fleet-lab-gpu-node",
        "Project": "llm-fleet",
        "Role": "gpu-node",
        "Environment": "lab",
    }
    assert who.prefix == "llm-fleet/lab"


def test_no_token_no_answer(imds: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{imds}/latest/meta-data/instance-id", timeout=5)
    assert refused.value.code == 401
