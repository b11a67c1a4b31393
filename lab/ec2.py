"""A real EC2 API on loopback (moto in server mode) and the instances that stand for lab hosts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from fleetlib.paths import venv_bin
from lab.config import ENVIRONMENT_TAG, PROJECT_TAG, REGION

DUMMY_CREDENTIALS = {"aws_access_key_id": "lab", "aws_secret_access_key": "lab"}


def sdk_env(endpoint: str, region: str = REGION) -> dict[str, str]:
    """The environment an AWS SDK or CLI (a tool, a host's boto3) reads to use the lab's AWS
    API at endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    }


def address_is_local(host: str) -> bool:
    """Whether host is an address of this machine (the lab network's gateway exists only while
    the lab's bridge is up; elsewhere, a proxy on the way out may answer for any address)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, 0))
        except OSError:
            return False
    return True


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    """Something of this machine listens on host:port (host one of its own addresses)."""
    if not address_is_local(host):
        return False
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MotoServer:
    """moto_server in its own process group, bound to one address: loopback for the tests, the
    lab network's gateway for the lab (its hosts reach S3, Secrets Manager and SSM there)."""

    port: int
    log: Path
    host: str = "127.0.0.1"
    pid: int | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if port_is_open(self.port, self.host):
            raise RuntimeError(f"{self.host}:{self.port} is already in use; is a lab already up?")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [str(venv_bin("moto_server")), "-H", self.host, "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = proc.pid
        deadline = time.monotonic() + timeout
        while not port_is_open(self.port, self.host):
            if proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto_server did not start on port {self.port}; see {self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.pid is None:
            return
        stop_process_group(self.pid)
        self.pid = None


def stop_process_group(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by pid, then SIGKILL what is left after timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            with contextlib.suppress(ChildProcessError):  # reap it when it is our own child
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)


def ec2_client(endpoint: str) -> Any:
    return boto3.client("ec2", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS)


def any_image_id(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    if not images:
        raise RuntimeError("the EC2 API offers no AMI to launch lab instances from")
    return str(sorted(image["ImageId"] for image in images)[0])


def run_tagged_instance(
    ec2: Any,
    *,
    name: str,
    role: str,
    instance_type: str,
    zone: str,
    project: str = PROJECT_TAG,
    environment: str = ENVIRONMENT_TAG,
    extra_tags: dict[str, str] | None = None,
    private_ip: str | None = None,
) -> dict[str, Any]:
    """Launch one instance carrying the tags terraform sets (Project, Role, Environment, Name);
    private_ip: the address of the lab host behind it (what the load balancer forwards to)."""
    tags = {"Name": name, "Project": project, "Role": role, "Environment": environment}
    tags.update(extra_tags or {})
    reservation = ec2.run_instances(
        ImageId=any_image_id(ec2),
        InstanceType=instance_type,
        MinCount=1,
        MaxCount=1,
        Placement={"AvailabilityZone": zone},
        **({"PrivateIpAddress": private_ip} if private_ip else {}),
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    instance: dict[str, Any] = reservation["Instances"][0]
    return instance


def elbv2_client(endpoint: str) -> Any:
    return boto3.client("elbv2", region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS)


def create_target_group(
    ec2: Any, elbv2: Any, name: str, port: int, health_path: str | None = "/health"
) -> str:
    """A target group as terraform creates it, in the default VPC the lab instances run in:
    the ALB's for Open WebUI (HTTP, health_path), or, with health_path None, the rag tier's
    internal network load balancer's (TCP). Returns its ARN."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise RuntimeError("the EC2 API has no default VPC for the lab's target group")
    health: dict[str, Any] = (
        {"Protocol": "HTTP", "HealthCheckPath": health_path, "Matcher": {"HttpCode": "200"}}
        if health_path
        else {"Protocol": "TCP", "HealthCheckProtocol": "TCP"}
    )
    group = elbv2.create_target_group(
        Name=name, Port=port, VpcId=vpcs[0]["VpcId"], TargetType="instance", **health
    )["TargetGroups"][0]
    return str(group["TargetGroupArn"])


def register_targets(elbv2: Any, target_group_arn: str, instance_ids: list[str], port: int) -> None:
    """What the auto scaling group does for each instance it launches."""
    elbv2.register_targets(
        TargetGroupArn=target_group_arn,
        Targets=[{"Id": instance_id, "Port": port} for instance_id in instance_ids],
    )


def target_health(elbv2: Any, name: str) -> tuple[str, list[dict[str, Any]]]:
    """A target group's ARN and its registered targets with their health, found by name."""
    groups = elbv2.describe_target_groups(Names=[name])["TargetGroups"]
    arn = str(groups[0]["TargetGroupArn"])
    health: list[dict[str, Any]] = elbv2.describe_target_health(TargetGroupArn=arn)[
        "TargetHealthDescriptions"
    ]
    return arn, health
