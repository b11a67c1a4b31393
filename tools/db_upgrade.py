"""Upgrading the shared database safely: whether a release changes Open WebUI's database schema,
and a snapshot of the RDS instance taken before it does.

    python -m tools.db_upgrade check --prefix P --manifest M.manifest.json [--github-output F]
        compares the release being deployed with the one recorded in SSM (/<P>/release): a new
        Open WebUI version migrates the database. Prints schema_change=true|false|first (a
        fleet's first release: nothing to protect) and writes it to F (the job's outputs).
    python -m tools.db_upgrade snapshot --db-instance ID --release V [--wait-s S]
        a manual snapshot <ID>-before-<V> (kept until deleted, whatever the automated backups'
        retention), waited for until it is available; one that exists already is reused.

The deploy takes the snapshot, then lets no old host serve the new schema: new launches are
suspended, every GPU host leaves the load balancer together, the release is applied (the first
host migrates, under the bootstrap's advisory lock), the hosts come back after their health gate.
Restoring (to the snapshot, or to a point in time): README "Upgrading the shared database"."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from tools.host_apply import published


def schema_change(previous: dict[str, str] | None, manifest: dict[str, Any]) -> str:
    """first (no release recorded: an empty database), true (another Open WebUI version, or a
    record that does not say: assume it migrates) or false."""
    if previous is None:
        return "first"
    return "false" if previous.get("open_webui") == manifest.get("open_webui") else "true"


def recorded(prefix: str, ssm: Any) -> dict[str, str] | None:
    try:
        return published(prefix, ssm)
    except ssm.exceptions.ParameterNotFound:
        return None


def snapshot_name(db_instance: str, release: str) -> str:
    """RDS's rules: letters, digits and single hyphens, a letter first, no hyphen last."""
    name = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", f"{db_instance}-before-{release}"))
    return name.strip("-")[:255].rstrip("-")


def snapshot(rds: Any, db_instance: str, release: str, wait_s: int) -> str:
    """The instance's manual snapshot before this release, taken once and waited for."""
    name = snapshot_name(db_instance, release)
    try:
        rds.describe_db_snapshots(DBSnapshotIdentifier=name)
    except rds.exceptions.DBSnapshotNotFoundFault:
        purpose = {"Key": "Purpose", "Value": f"before release {release}"}
        rds.create_db_snapshot(
            DBSnapshotIdentifier=name, DBInstanceIdentifier=db_instance, Tags=[purpose]
        )
    delay = 15
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier=name,
        WaiterConfig={"Delay": delay, "MaxAttempts": max(1, wait_s // delay)},
    )
    return name


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(prog="python -m tools.db_upgrade", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="does this release change Open WebUI's schema?")
    check.add_argument("--prefix", required=True, help="terraform output state_prefix")
    check.add_argument("--manifest", type=Path, required=True)
    check.add_argument("--github-output", type=Path, help="append schema_change=... here")
    take = sub.add_parser("snapshot", help="snapshot the database before the release")
    take.add_argument("--db-instance", required=True, help="terraform output database_identifier")
    take.add_argument("--release", required=True)
    take.add_argument("--wait-s", type=int, default=3600)
    args = parser.parse_args(argv)
    if args.command == "check":
        manifest = json.loads(args.manifest.read_text())
        previous = recorded(args.prefix, boto3.client("ssm"))
        change = schema_change(previous, manifest)
        before = (previous or {}).get("open_webui", "none")
        print(f"schema_change={change} (Open WebUI {before} -> {manifest.get('open_webui')})")
        if args.github_output:
            with args.github_output.open("a") as handle:
                handle.write(f"schema_change={change}\n")
        return 0
    name = snapshot(boto3.client("rds"), args.db_instance, args.release, args.wait_s)
    print(f"snapshot {name} available")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
