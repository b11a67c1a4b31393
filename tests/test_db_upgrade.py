"""tools/db_upgrade.py against the lab's AWS API (moto): a release that changes Open WebUI's
version is a schema change (a first release is not: nothing to protect yet); the snapshot before
it is taken once, named after the release, and is available when the tool returns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from fleetlib.paths import venv_bin
from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer, sdk_env
from tests.helpers import run_tool
from tools.db_upgrade import schema_change, snapshot, snapshot_name

PREFIX = "llm-fleet/upgrade"


@pytest.fixture
def aws(moto_server: MotoServer) -> dict[str, Any]:
    options = {"region_name": REGION, "endpoint_url": moto_server.endpoint, **DUMMY_CREDENTIALS}
    return {name: boto3.client(name, **options) for name in ("rds", "ssm")}


def test_a_new_open_webui_version_is_a_schema_change(
    tmp_path: Path, moto_server: MotoServer, aws: dict[str, Any]
) -> None:
    assert schema_change(None, {"open_webui": "0.12.4"}) == "first"
    assert schema_change({"open_webui": "0.12.4"}, {"open_webui": "0.12.4"}) == "false"
    assert schema_change({"open_webui": "0.12.3"}, {"open_webui": "0.12.4"}) == "true"
    assert schema_change({"version": "old"}, {"open_webui": "0.12.4"}) == "true"  # unknown

    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"version": "r2", "open_webui": "0.12.4"}))
    outputs = tmp_path / "outputs"

    def check() -> str:
        proc = run_tool(
            venv_bin("python"), "-m", "tools.db_upgrade", "check", "--prefix", PREFIX,
            "--manifest", manifest, "--github-output", outputs, timeout=120,
            **sdk_env(moto_server.endpoint),
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        return outputs.read_text().splitlines()[-1]

    assert check() == "schema_change=first"
    record = {"version": "r1", "open_webui": "0.12.3", "artifact": "s3://b/k", "sha256": "0"}
    aws["ssm"].put_parameter(Name=f"/{PREFIX}/release", Value=json.dumps(record),
                             Type="String", Overwrite=True)  # fmt: skip
    assert check() == "schema_change=true"
    record["open_webui"] = "0.12.4"
    aws["ssm"].put_parameter(Name=f"/{PREFIX}/release", Value=json.dumps(record),
                             Type="String", Overwrite=True)  # fmt: skip
    assert check() == "schema_change=false"


def test_the_snapshot_before_a_release_is_taken_once_and_available(
    aws: dict[str, Any],
) -> None:
    rds = aws["rds"]
    rds.create_db_instance(
        DBInstanceIdentifier="llm-fleet-prod-abc", Engine="postgres",
        DBInstanceClass="db.t4g.small", AllocatedStorage=20, MasterUsername="fleet_admin",
        MasterUserPassword="not-a-secret-0",
    )  # fmt: skip
    release = "0a1b2c3d4e5f-1"
    name = snapshot(rds, "llm-fleet-prod-abc", release, wait_s=60)
    assert name == "llm-fleet-prod-abc-before-0a1b2c3d4e5f-1"
    assert snapshot(rds, "llm-fleet-prod-abc", release, wait_s=60) == name  # reused
    (found,) = [s for s in rds.describe_db_snapshots(DBInstanceIdentifier="llm-fleet-prod-abc")
                ["DBSnapshots"] if s["DBSnapshotIdentifier"] == name]  # fmt: skip
    assert found["Status"] == "available" and found["SnapshotType"] == "manual"
    assert snapshot_name("db", "v1.2_rc--3") == "db-before-v1-2-rc-3"
