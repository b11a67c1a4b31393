"""Drift detection and correction for the fleet.

    python -m tools.drift [-i INVENTORY]... [--limit HOSTS] [--out DIR] [--fail-on-drift]
                          [--correct] [--playbook site.yml]

Runs site.yml in check+diff mode: every task that would change something is drift. Writes
DIR/drift.json (per host, per task, the diff) and DIR/drift.md (a short summary), prints the
summary. With --correct it then applies site.yml, records what it corrected (corrected.json)
and checks again, which must come out clean. Exit status: 0 clean (or corrected), 2 drift found
with --fail-on-drift, 1 the run itself failed (a failed task or an unreachable host)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.config import REPO

CLEAN, ERROR, DRIFT = 0, 1, 2


@dataclass(frozen=True)
class Run:
    report: dict[str, Any]

    @property
    def drifted(self) -> dict[str, list[dict[str, Any]]]:
        return {h: r["changed"] for h, r in self.report["hosts"].items() if r["changed"]}

    @property
    def broken(self) -> dict[str, Any]:
        return {
            h: r["failed"] or "unreachable"
            for h, r in self.report["hosts"].items()
            if r["failed"] or r["unreachable"]
        }


def playbook(args: argparse.Namespace, report: Path, *, check: bool) -> Run:
    command = [str(Path(sys.executable).parent / "ansible-playbook")]
    for inventory in args.inventory or ["inventories/aws_ec2.yml"]:
        command += ["-i", inventory]
    command.append(str(args.playbook))
    limit = args.limit
    command += ["--diff"] + (["--check"] if check else []) + (["--limit", limit] if limit else [])
    env = {
        **os.environ,
        "ANSIBLE_CALLBACKS_ENABLED": "drift_report",
        "LLM_FLEET_DRIFT_REPORT": str(report),
        "ANSIBLE_FORCE_COLOR": "0",
    }
    report.unlink(missing_ok=True)
    proc = subprocess.run(command, cwd=REPO, env=env, check=False, capture_output=True, text=True)
    report.with_suffix(".log").write_text(proc.stdout + proc.stderr)
    if not report.exists():
        raise SystemExit(f"no report from ansible-playbook (exit {proc.returncode}): {proc.stderr}")
    return Run(json.loads(report.read_text()))


def summary(title: str, run: Run) -> str:
    lines = [f"# {title}", ""]
    hosts = run.report["hosts"]
    lines.append(f"{len(run.drifted)} of {len(hosts)} host(s) differ from site.yml.")
    for host, changes in run.drifted.items():
        lines += ["", f"## {host}: {len(changes)} task(s)", ""]
        lines += [f"- `{c['role'] or 'play'}`: {c['task']}" for c in changes]
    for host, problem in run.broken.items():
        lines += ["", f"**{host}: the run failed** ({json.dumps(problem)[:500]})"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-i", "--inventory", action="append", help="repeatable (default inventories/aws_ec2.yml)"
    )
    parser.add_argument("--limit", default="")
    parser.add_argument("--playbook", type=Path, default=REPO / "site.yml")
    parser.add_argument("--out", type=Path, default=REPO / "artifacts" / "drift")
    parser.add_argument("--fail-on-drift", action="store_true")
    parser.add_argument("--correct", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    detected = playbook(args, args.out / "drift.json", check=True)
    text = summary("Drift", detected)
    status = ERROR if detected.broken else (DRIFT if detected.drifted else CLEAN)
    if args.correct and status == DRIFT:
        corrected = playbook(args, args.out / "corrected.json", check=False)
        after = playbook(args, args.out / "after.json", check=True)
        text += "\n" + summary("Corrected", corrected).replace("differ from", "corrected to")
        text += "\n" + summary("After correction", after)
        status = ERROR if corrected.broken or after.broken or after.drifted else CLEAN
    (args.out / "drift.md").write_text(text)
    print(text)
    if status == DRIFT and not args.fail_on_drift:
        return CLEAN
    return status


if __name__ == "__main__":
    raise SystemExit(main())
