"""Drift detection and correction for the fleet.

    python -m tools.drift [--release-prefix P] [-i INVENTORY]... [--limit HOSTS] [--out DIR]
                          [--fail-on-drift] [--correct [--batch N|N%]] [--playbook site.yml]

Runs site.yml in check+diff mode: every task that would change something is drift. Writes
DIR/drift.json (per host, per task, the diff), DIR/drift.md (what drifted, what was corrected,
what could not be) and DIR/result.json, and prints the summary. With --release-prefix the
fleet's recorded release is what is checked and applied (tools/rollout.py fetches and checks it),
never a branch head. --correct then corrects the drifted hosts the way a rollout goes - the
rag tier with site.yml, the load-balanced GPU hosts in batches through the load balancer's
drain and health gate (playbooks/rolling_update.yml) - and checks the hosts that drifted again,
which must come out clean. Exit status: 0 clean (or corrected; or drift found without
--fail-on-drift), 2 drift found with --fail-on-drift, 1 the run failed or could not correct
everything."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fleetlib.paths import ARTIFACTS, REPO
from tools.rollout import BATCH_HELP, Run, Tree, apply, fetch_release, playbook, summary

CLEAN, ERROR, DRIFT = 0, 1, 2
SETTINGS_NOTE = (
    "Settings read from the release's value to the host's; a secret's value is never shown"
    " (the wiring's fleet_secret_setting_patterns)."
)


def tree_from(args: argparse.Namespace) -> Tree:
    if args.release_prefix:
        return fetch_release(args.release_prefix, args.out / "release", args.playbook)
    return Tree(REPO, "checkout", args.playbook)


def not_corrected(after: Run) -> dict[str, list[str]]:
    """Per host, what still differs (or why the run failed there) after the correction."""
    left = after.changed_tasks
    for host, problem in after.broken.items():
        left.setdefault(host, []).append(f"the run failed: {json.dumps(problem)[:300]}")
    return left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release-prefix", help="terraform output state_prefix: its release")
    parser.add_argument(
        "-i", "--inventory", action="append", help="repeatable (default inventories/aws_ec2.yml)"
    )
    parser.add_argument("--limit", default="")
    parser.add_argument("--playbook", type=Path, default=Path("site.yml"))
    parser.add_argument("--out", type=Path, default=ARTIFACTS / "drift")
    parser.add_argument("--fail-on-drift", action="store_true")
    parser.add_argument("--correct", action="store_true")
    parser.add_argument("--batch", help=BATCH_HELP)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tree = tree_from(args)

    detected = playbook(tree, tree.site, args.inventory, args.limit, args.out / "drift.json",
                        check=True)  # fmt: skip
    text = summary("Drift", tree, detected, "differ from site.yml")
    if detected.changed:
        text += f"\n{SETTINGS_NOTE}\n"
    status = ERROR if detected.broken else (DRIFT if detected.changed else CLEAN)
    result: dict[str, object] = {
        "release": tree.version,
        "drifted": detected.changed_tasks,
        "broken": detected.broken,
    }
    if args.correct and status == DRIFT:
        corrected = apply(tree, args.inventory, sorted(detected.changed), args.out, args.batch,
                          name="corrected")  # fmt: skip
        # Checked again: the hosts that drifted (the others were found clean a moment ago).
        after = playbook(tree, tree.site, args.inventory, ",".join(sorted(detected.changed)),
                         args.out / "after.json", check=True)  # fmt: skip
        left = not_corrected(after)
        text += "\n" + summary("Corrected", tree, corrected, "corrected")
        text += "\n# Not corrected\n\n"
        text += "".join(f"- {h}: {'; '.join(tasks)}\n" for h, tasks in left.items()) or "Nothing.\n"
        result["corrected"] = corrected.changed_tasks
        result["not_corrected"] = left
        status = ERROR if corrected.broken or left else CLEAN
    result["status"] = {CLEAN: "clean", DRIFT: "drift", ERROR: "failed"}[status]
    (args.out / "drift.md").write_text(text)
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(text)
    if status == DRIFT and not args.fail_on_drift:
        return CLEAN
    return status


if __name__ == "__main__":
    raise SystemExit(main())
