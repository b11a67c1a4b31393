"""Apply the fleet's recorded release to hosts already in service, the load-balanced ones in
batches through the load balancer's drain and health gate.

    python -m tools.rollout --release-prefix P [-i INVENTORY]... [--limit HOSTS] [--batch N|N%]
                            [--out DIR] [--summary FILE]
    python -m tools.rollout --tree DIR ...     (a tree already unpacked, or this checkout)

The release is the one the deploy published (/<P>/release in SSM: its artifact in S3, checked
against its SHA-256 before anything is unpacked), never a branch head. Hosts outside the load
balancer (the rag tier) get site.yml first - the front end connects to them; the GPU hosts then
get playbooks/rolling_update.yml: a batch at a time out of the target group, their roles,
Open WebUI's health gate, back in. Exit status 0 when every host converged, 1 otherwise. The
drift correction (tools/drift.py) is the same path."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fleetlib.paths import ARTIFACTS


@dataclass(frozen=True)
class Tree:
    """A tree site.yml runs from: an unpacked release or a checkout."""

    root: Path
    version: str = "checkout"
    playbook: Path = Path("site.yml")  # the whole platform; a test gives its own

    @property
    def site(self) -> Path:
        return self.root / self.playbook

    @property
    def rolling_update(self) -> Path:
        return self.root / "playbooks" / "rolling_update.yml"

    @property
    def load_balanced(self) -> str:
        """The hosts the rolling update takes through the load balancer (its play's hosts)."""
        hosts: str = yaml.safe_load(self.rolling_update.read_text())[0]["hosts"]
        return hosts


@dataclass
class Run:
    """What one ansible-playbook run did (or, checking, would do), per host: its drift_report."""

    report: dict[str, Any] = field(default_factory=lambda: {"hosts": {}})

    @property
    def hosts(self) -> dict[str, Any]:
        hosts: dict[str, Any] = self.report["hosts"]
        return hosts

    @property
    def changed(self) -> dict[str, list[dict[str, Any]]]:
        return {h: r["changed"] for h, r in self.hosts.items() if r["changed"]}

    @property
    def changed_tasks(self) -> dict[str, list[str]]:
        """Per host, the names of the tasks that changed (or, checking, would change)."""
        return {host: [c["task"] for c in changes] for host, changes in self.changed.items()}

    @property
    def broken(self) -> dict[str, Any]:
        return {
            h: r["failed"] or "unreachable"
            for h, r in self.hosts.items()
            if r["failed"] or r["unreachable"]
        }

    def merged(self, other: Run) -> Run:
        return Run({**self.report, "hosts": {**self.hosts, **other.hosts}})


def fetch_release(prefix: str, dest: Path, playbook: Path = Path("site.yml")) -> Tree:
    """The release /<prefix>/release records, downloaded, checked and unpacked under dest
    (AWS settings from the environment, as every AWS SDK takes them); its playbook site.yml
    unless another is given. The thin release where one is recorded: the tree and the project's
    own wheels are all a run from here uses (the hosts install their packages from their own
    index or wheelhouse), a fraction of the full release's wheels for the hosts. A release
    already fetched there from the same recorded artifact (its SHA-256 noted once unpacked) is
    used again: a check and its correction download it once."""
    import boto3

    from tools.host_apply import fetch, published

    s3, ssm = boto3.client("s3"), boto3.client("ssm")
    record = published(prefix, ssm)
    thin = bool(record.get("thin_artifact"))
    digest = record["thin_sha256"] if thin else record["sha256"]
    fetched = dest / "releases" / record["version"] / "ARTIFACT_SHA256"
    release = fetched.parent / "llm-fleet"
    if fetched.exists() and fetched.read_text().strip() == digest:
        print(f"release {record['version']}: fetched and checked before ({digest})")
        return Tree(release, record["version"], playbook)
    release = fetch(record, dest, s3, thin=thin)
    fetched.write_text(digest + "\n")
    return Tree(release, record["version"], playbook)


def tree_from(args: argparse.Namespace) -> Tree:
    if args.release_prefix:
        return fetch_release(args.release_prefix, args.out / "release")
    return Tree(args.tree.resolve())


def inventory_args(tree: Tree, inventories: Sequence[str] | None) -> list[str]:
    command: list[str] = []
    for inventory in inventories or ["inventories/aws_ec2.yml"]:
        command += ["-i", inventory]  # relative paths: in the tree (the runs' working directory)
    return command


def env_for(tree: Tree, report: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(tree.root / "ansible.cfg"),
        "ANSIBLE_CALLBACKS_ENABLED": "drift_report",
        "LLM_FLEET_DRIFT_REPORT": str(report),
        "ANSIBLE_FORCE_COLOR": "0",
    }


def matching(tree: Tree, inventories: Sequence[str] | None, pattern: str) -> list[str]:
    """The inventory's hosts a pattern (a --limit) selects."""
    command = [str(Path(sys.executable).parent / "ansible"), pattern, "--list-hosts"]
    command += inventory_args(tree, inventories)
    proc = subprocess.run(
        command, cwd=tree.root, env=env_for(tree, Path(os.devnull)), check=False,
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"ansible {pattern} --list-hosts: {proc.stderr.strip()}")
    return [line.strip() for line in proc.stdout.splitlines()[1:] if line.strip()]


def playbook(
    tree: Tree,
    book: Path,
    inventories: Sequence[str] | None,
    limit: str,
    report: Path,
    *,
    check: bool,
    extra: Sequence[str] = (),
) -> Run:
    """ansible-playbook with --diff (and --check), its drift_report as the result; its output
    beside the report (.log)."""
    command = [str(Path(sys.executable).parent / "ansible-playbook")]
    command += [*inventory_args(tree, inventories), str(book), "--diff", *extra]
    command += (["--check"] if check else []) + (["--limit", limit] if limit else [])
    report.unlink(missing_ok=True)
    proc = subprocess.run(
        command, cwd=tree.root, env=env_for(tree, report), check=False, capture_output=True,
        text=True,
    )  # fmt: skip
    report.with_suffix(".log").write_text(proc.stdout + proc.stderr)
    if not report.exists():
        raise SystemExit(f"no report from ansible-playbook (exit {proc.returncode}): {proc.stderr}")
    return Run(json.loads(report.read_text()))


BATCH_HELP = "GPU hosts at a time: N or N%% (default: rolling_update_batch's, in the playbook)"


def apply(
    tree: Tree,
    inventories: Sequence[str] | None,
    hosts: Sequence[str],
    out: Path,
    batch: str | None,
    name: str = "applied",
) -> Run:
    """The release applied to these hosts: those outside the load balancer with site.yml, then
    the load-balanced ones with the rolling update (batch hosts, or a percentage, at a time;
    None: the rolling update's own default, rolling_update_batch)."""
    if batch is not None and not re.fullmatch(r"[1-9][0-9]*%?", batch):
        raise SystemExit(f"--batch {batch!r}: a number of hosts or a percentage, such as 1 or 25%")
    balanced = set(matching(tree, inventories, tree.load_balanced))
    rest = [h for h in hosts if h not in balanced]
    gpu = [h for h in hosts if h in balanced]
    run = Run()
    if rest:
        run = run.merged(
            playbook(tree, tree.site, inventories, ",".join(rest), out / f"{name}-site.json",
                     check=False)
        )  # fmt: skip
    if gpu and not run.broken:
        run = run.merged(
            playbook(tree, tree.rolling_update, inventories, ",".join(gpu),
                     out / f"{name}-rolling.json", check=False,
                     extra=[] if batch is None else ["-e", f"rolling_update_batch={batch}"])
        )  # fmt: skip
    for host in hosts:  # a host the failed site.yml stopped before the rolling update
        run.hosts.setdefault(host, {"changed": [], "failed": ["not reached"], "unreachable": False})
    return run


def summary(title: str, tree: Tree, run: Run, verb: str) -> str:
    lines = [f"# {title}", "", f"Release: {tree.version}", ""]
    lines.append(f"{len(run.changed)} of {len(run.hosts)} host(s) {verb}.")
    for host, changes in run.changed.items():
        lines += ["", f"## {host}: {len(changes)} task(s)", ""]
        for change in changes:
            lines.append(f"- `{change['role'] or 'play'}`: {change['task']}")
            lines += [f"  - {setting}" for setting in change.get("settings", [])]
    for host, problem in run.broken.items():
        lines += ["", f"**{host}: the run failed** ({json.dumps(problem)[:500]})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--release-prefix", help="terraform output state_prefix: the release there")
    source.add_argument("--tree", type=Path, help="a tree to apply from (an unpacked release)")
    parser.add_argument(
        "-i", "--inventory", action="append", help="repeatable, relative to the release tree"
    )
    parser.add_argument("--limit", default="all")
    parser.add_argument("--batch", help=BATCH_HELP)
    parser.add_argument("--out", type=Path, default=ARTIFACTS / "rollout")
    parser.add_argument("--summary", type=Path, help="append the Markdown summary to this file")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tree = tree_from(args)
    hosts = matching(tree, args.inventory, args.limit)
    if not hosts:
        print(f"no hosts match {args.limit!r}: nothing to apply")
        return 0
    run = apply(tree, args.inventory, hosts, args.out, args.batch)
    text = summary("Rollout", tree, run, "changed")
    (args.out / "rollout.md").write_text(text)
    if args.summary:
        with args.summary.open("a") as handle:
            handle.write(text)
    print(text)
    return 1 if run.broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
