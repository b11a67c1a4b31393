"""The aws_ec2 dynamic inventories (production and lab) against a real EC2 API (moto server).

Three tagged running instances, one of another project and one stopped: the inventory must
yield exactly the three, grouped by Role, availability zone and instance type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.ec2 import MotoServer, run_tagged_instance
from tests.helpers import group_hosts, inventory_list
from tools.self_inventory import write

PRODUCTION = Path("inventories/aws_ec2.yml")
LAB = Path("inventories/lab/aws_ec2.yml")
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

FLEET = [
    # name, role, type, zone, environment
    ("gpu-a", "gpu-node", "g5.xlarge", "us-east-1a", "prod"),
    ("gpu-b", "gpu-node", "g4dn.xlarge", "us-east-1b", "prod"),
    ("rag-a", "rag-node", "g5.xlarge", "us-east-1a", "prod"),
]


def pointed_at(source: Path, repo: Path, tmp_path: Path, endpoint: str, **changes: Any) -> Path:
    """A copy of an inventory file whose only differences are the endpoint (and `changes`)."""
    data = yaml.safe_load((repo / source).read_text())
    data["endpoint_url"] = endpoint
    data.update(changes)
    copy = tmp_path / "aws_ec2.yml"  # the plugin only reads files named *aws_ec2.yml
    copy.write_text(yaml.safe_dump(data))
    return copy


@pytest.fixture
def fleet(ec2: Any) -> dict[str, dict[str, Any]]:
    instances = {
        name: run_tagged_instance(
            ec2,
            name=name,
            role=role,
            instance_type=itype,
            zone=zone,
            environment=env,
            extra_tags={"LabHost": f"container-{name}"},
        )
        for name, role, itype, zone, env in FLEET
    }
    run_tagged_instance(
        ec2,
        name="foreign",
        role="gpu-node",
        instance_type="g5.xlarge",
        zone="us-east-1a",
        project="another-project",
        environment="prod",
    )
    stopped = run_tagged_instance(
        ec2,
        name="stopped",
        role="gpu-node",
        instance_type="g5.xlarge",
        zone="us-east-1a",
        environment="prod",
    )
    ec2.stop_instances(InstanceIds=[stopped["InstanceId"]])
    return instances


def test_production_inventory_yields_exactly_the_running_fleet(
    fleet: dict[str, dict[str, Any]], moto_server: MotoServer, repo: Path, tmp_path: Path
) -> None:
    inventory = inventory_list(
        pointed_at(PRODUCTION, repo, tmp_path, moto_server.endpoint), **CREDENTIALS
    )
    hostvars = inventory["_meta"]["hostvars"]
    host = {name: f"{name}_{instance['InstanceId']}" for name, instance in fleet.items()}
    assert set(hostvars) == set(host.values())
    assert group_hosts(inventory, "role_gpu_node") == {host["gpu-a"], host["gpu-b"]}
    assert group_hosts(inventory, "role_rag_node") == {host["rag-a"]}
    assert group_hosts(inventory, "az_us_east_1a") == {host["gpu-a"], host["rag-a"]}
    assert group_hosts(inventory, "az_us_east_1b") == {host["gpu-b"]}
    assert group_hosts(inventory, "type_g5_xlarge") == {host["gpu-a"], host["rag-a"]}
    assert group_hosts(inventory, "type_g4dn_xlarge") == {host["gpu-b"]}
    assert group_hosts(inventory, "env_prod") == set(host.values())
    for name, instance in fleet.items():
        assert hostvars[host[name]]["ansible_host"] == instance["PrivateIpAddress"]
        assert hostvars[host[name]]["ansible_connection"] == "amazon.aws.aws_ssm"
        assert hostvars[host[name]]["ansible_aws_ssm_instance_id"] == instance["InstanceId"]


def test_production_inventory_keeps_hosts_that_share_a_name_tag(
    ec2: Any, moto_server: MotoServer, repo: Path, tmp_path: Path
) -> None:
    """An auto scaling group gives every host it launches the same Name tag."""
    ids = {
        run_tagged_instance(
            ec2,
            name="llm-fleet-prod-gpu-node",
            role="gpu-node",
            instance_type="g5.xlarge",
            zone=zone,
            environment="prod",
        )["InstanceId"]
        for zone in ("us-east-1a", "us-east-1b")
    }
    inventory = inventory_list(
        pointed_at(PRODUCTION, repo, tmp_path, moto_server.endpoint), **CREDENTIALS
    )
    assert group_hosts(inventory, "role_gpu_node") == {
        f"llm-fleet-prod-gpu-node_{instance_id}" for instance_id in ids
    }


def test_lab_inventory_maps_instances_to_lab_hosts(
    fleet: dict[str, dict[str, Any]], moto_server: MotoServer, repo: Path, tmp_path: Path
) -> None:
    lab_copy = pointed_at(
        LAB,
        repo,
        tmp_path,
        moto_server.endpoint,
        filters={
            "tag:Project": "llm-fleet",
            "tag:Environment": "prod",
            "instance-state-name": "running",
        },
    )
    inventory = inventory_list(lab_copy)
    hostvars = inventory["_meta"]["hostvars"]
    assert set(hostvars) == {"gpu-a", "gpu-b", "rag-a"}
    assert group_hosts(inventory, "role_gpu_node") == {"gpu-a", "gpu-b"}
    for name in fleet:
        assert hostvars[name]["ansible_host"] == f"container-{name}"
        assert hostvars[name]["ansible_connection"] == "podman_pipelined"


def test_lab_inventory_ignores_other_environments(
    fleet: dict[str, dict[str, Any]], moto_server: MotoServer, repo: Path, tmp_path: Path
) -> None:
    inventory = inventory_list(pointed_at(LAB, repo, tmp_path, moto_server.endpoint))
    assert inventory["_meta"]["hostvars"] == {}


def test_lab_and_production_group_hosts_the_same_way(repo: Path) -> None:
    production = yaml.safe_load((repo / PRODUCTION).read_text())
    lab = yaml.safe_load((repo / LAB).read_text())
    assert lab["plugin"] == production["plugin"] == "amazon.aws.aws_ec2"
    assert lab["keyed_groups"] == production["keyed_groups"]
    assert lab["filters"]["tag:Project"] == production["filters"]["tag:Project"]
    assert lab["filters"]["instance-state-name"] == "running"


def test_a_hosts_own_inventory_is_the_production_one_narrowed_to_it(
    fleet: dict[str, dict[str, Any]], moto_server: MotoServer, repo: Path, tmp_path: Path
) -> None:
    """What a host configuring itself runs site.yml with: the same host name, groups and
    hostvars as the controller's production inventory gives it, reached locally."""
    production = inventory_list(
        pointed_at(PRODUCTION, repo, tmp_path, moto_server.endpoint), **CREDENTIALS
    )
    own_id = fleet["gpu-b"]["InstanceId"]
    (tmp_path / "self").mkdir()
    mine = write(pointed_at(PRODUCTION, repo, tmp_path / "self", moto_server.endpoint), own_id)
    assert mine.name.endswith("aws_ec2.yml")
    narrowed = inventory_list(mine, **CREDENTIALS)
    host = f"gpu-b_{own_id}"
    assert set(narrowed["_meta"]["hostvars"]) == {host}
    groups = {g for g, v in production.items() if host in v.get("hosts", [])}
    assert groups == {g for g, v in narrowed.items() if host in v.get("hosts", [])}
    assert {"role_gpu_node", "env_prod", "az_us_east_1b"} <= groups
    expected = dict(production["_meta"]["hostvars"][host], ansible_connection="local")
    assert narrowed["_meta"]["hostvars"][host] == expected
