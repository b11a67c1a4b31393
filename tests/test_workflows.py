"""The GitHub Actions workflows: valid for actionlint (with shellcheck over every run: script when
installed) and GitHub's workflow schema, and holding the guarantees the README promises."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlib.paths import REPO, venv_bin

WORKFLOWS = REPO / ".github" / "workflows"
FILES = sorted(WORKFLOWS.glob("*.yml"))


def workflow(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())
    return data


def steps(flow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = flow["jobs"][job]["steps"]
    return result


def run_scripts(flow: dict[str, Any]) -> str:
    return "\n".join(s.get("run", "") for job in flow["jobs"] for s in steps(flow, job))


def test_the_six_workflows_exist() -> None:
    assert [f.stem for f in FILES] == ["ci", "deploy", "destroy", "drift", "plan", "rollout"]


PLAN_ACTION = REPO / ".github" / "actions" / "terraform-plan" / "action.yml"


def test_one_plan_action_shows_and_keeps_the_plan() -> None:
    """The deploy and pull requests plan through one composite action: the plan file, its
    summary in the job summary, the artifact."""
    action = yaml.safe_load(PLAN_ACTION.read_text())
    script = "\n".join(s.get("run", "") for s in action["runs"]["steps"])
    assert 'terraform plan -lock="${LOCK}" -out=tfplan' in script
    assert "GITHUB_STEP_SUMMARY" in script and "terraform show -no-color tfplan" in script
    uploads = [s for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/upload")]
    assert uploads and "terraform/tfplan" in uploads[0]["with"]["path"]


def test_pull_requests_get_a_read_only_plan() -> None:
    flow = workflow("plan")
    assert "terraform/**" in flow["on"]["pull_request"]["paths"]
    (job,) = flow["jobs"].values()
    assert "head.repo.full_name == github.repository" in job["if"]  # forks: no OIDC token
    (plan,) = [s for s in job["steps"] if s.get("uses") == "./.github/actions/terraform-plan"]
    assert plan["with"]["lock"] == "false" and "PLAN_ROLE" in plan["with"]["role-to-assume"]


def test_actionlint_finds_nothing() -> None:
    proc = subprocess.run(
        [str(venv_bin("actionlint")), *map(str, FILES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_githubs_schema() -> None:
    proc = subprocess.run(
        [str(venv_bin("check-jsonschema")), "--builtin-schema", "vendor.github-workflows"]
        + [str(f) for f in FILES],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_aws_credentials_come_from_oidc_only(path: Path) -> None:
    text = path.read_text()
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    flow = yaml.safe_load(text)
    uses_aws = any(
        str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
        for job in flow["jobs"]
        for s in steps(flow, job)
    )
    if uses_aws:
        assert flow["permissions"]["id-token"] == "write"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_make_targets_the_workflows_call_exist(path: Path) -> None:
    targets = {
        target
        for line in run_scripts(yaml.safe_load(path.read_text())).splitlines()
        if (match := re.search(r"\bmake ([\w\- ]+?)(?:\s+[A-Z_]+=|$)", line))
        for target in match.group(1).split()
    }
    for target in targets:
        proc = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, check=False)
        assert proc.returncode == 0, f"{path.name}: make {target}: {proc.stderr!r}"


def test_ci_runs_molecule_for_every_role() -> None:
    matrix = workflow("ci")["jobs"]["molecule"]["strategy"]["matrix"]["role"]
    roles = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "molecule").is_dir())
    assert sorted(matrix) == roles
    steps = workflow("ci")["jobs"]["molecule"]["steps"]
    assert any("make molecule-roles ROLES=${{ matrix.role }}" in s.get("run", "") for s in steps)


def test_ci_runs_the_whole_stack_scenario() -> None:
    steps = workflow("ci")["jobs"]["stack"]["steps"]
    assert any(s.get("run", "").endswith("make molecule-stack") for s in steps)


def test_deploy_runs_after_ci_passed_and_applies_the_plan_it_showed() -> None:
    """Triggered by CI's success on main (or by hand), on the commit CI passed; a plan job shows
    and keeps the plan; the deploy job, in the prod environment (its reviewers), applies that
    plan file and re-plans nothing."""
    flow = workflow("deploy")
    on = flow["on"]
    assert "push" not in on and on["workflow_run"]["workflows"] == ["ci"]
    assert on["workflow_run"]["branches"] == ["main"] and "workflow_dispatch" in on
    plan, deploy = flow["jobs"]["plan"], flow["jobs"]["deploy"]
    assert "workflow_run.conclusion == 'success'" in plan["if"]
    assert flow["env"]["REF"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
    for job in (plan, deploy):
        assert job["steps"][0]["with"]["ref"] == "${{ env.REF }}"
    assert any(s.get("uses") == "./.github/actions/terraform-plan" for s in plan["steps"])
    assert deploy["needs"] == "plan" and deploy["environment"]["name"] == "prod"
    deploy_script = "\n".join(s.get("run", "") for s in deploy["steps"])
    assert "terraform plan" not in deploy_script and "terraform apply tfplan" in deploy_script
    assert any(s.get("uses", "").startswith("actions/download-artifact") for s in deploy["steps"])


def test_deploy_publishes_the_release_and_leaves_each_host_to_complete_its_own_hook() -> None:
    """terraform, then the release built and published (hosts in their launch hook take it),
    then site.yml over the hosts already in service only, then a bounded wait for the group to
    be in service, then the post-deploy check; no step completes a lifecycle action (each host
    completes its own)."""
    flow = workflow("deploy")
    assert flow["concurrency"]["cancel-in-progress"] is False
    scripts = run_scripts(flow)
    order = [
        scripts.index(step)
        for step in (
            "terraform apply",
            "tools.release wheels",
            "tools.release build",
            "ollama_mirror.py push",
            "tools.release publish",
            "LifecycleState=='InService'",
            "tools.rollout --release-prefix",
            "length(Instances[?LifecycleState=='InService'])",
            "tools.post_deploy_check",
        )
    ]
    assert order == sorted(order)
    assert "complete-lifecycle-action" not in scripts
    assert '--limit "${{ steps.hosts.outputs.limit }}"' in scripts
    assert "${{ steps.schema.outputs.schema_change == 'true' && '--batch 100%' || '' }}" in scripts
    assert '--summary "$GITHUB_STEP_SUMMARY"' in scripts and "::add-mask::" in scripts
    assert "GITHUB_STEP_SUMMARY" in scripts and "PLAY RECAP" in scripts


def test_a_release_that_migrates_the_database_is_snapshotted_and_served_by_no_old_host() -> None:
    """Before a schema change: launches suspended, the hosts still configuring themselves
    finished, the snapshot taken, every target drained - all before the release is published;
    the rollout then takes every GPU host at once; launches resume whatever happened."""
    flow = workflow("deploy")
    deploy = steps(flow, "deploy")
    names = [s.get("name", "") for s in deploy]
    check = names.index("Does this release migrate the shared database?")
    before = next(i for i, n in enumerate(names) if n.startswith("Before the migration"))
    publish = next(i for i, n in enumerate(names) if n.startswith("Publish the release"))
    resume = names.index("Resume launches after a migration")
    assert check < before < publish < resume
    guard = deploy[before]["run"]
    order = [guard.index(s) for s in ("suspend-processes", "starts_with(LifecycleState, 'Pending')",
                                      "tools.db_upgrade snapshot", "deregister-targets",
                                      "wait target-deregistered")]  # fmt: skip
    assert order == sorted(order)
    assert deploy[before]["if"] == "steps.schema.outputs.schema_change == 'true'"
    assert (
        deploy[resume]["if"].startswith("always()") and "resume-processes" in deploy[resume]["run"]
    )


def test_destroy_needs_the_typed_confirmation_and_a_protected_environment() -> None:
    flow = workflow("destroy")
    assert set(flow["on"]) == {"workflow_dispatch"}
    assert flow["on"]["workflow_dispatch"]["inputs"]["confirm"]["required"] is True
    (guard,) = steps(flow, "confirm")
    assert '[ "$TYPED" != "$WANTED" ]' in guard["run"] and "exit 1" in guard["run"]
    destroy = flow["jobs"]["destroy"]
    assert destroy["needs"] == "confirm"
    assert destroy["environment"]["name"] == "${{ inputs.environment }}-destroy"


def test_deploy_drift_and_rollout_apply_the_recorded_release_in_batches() -> None:
    """The three ways hosts change after a deploy all apply the release the SSM parameter records
    (tools/rollout.py fetches and checks it), the GPU hosts in batches through the drain and
    health gate; none runs ansible-playbook site.yml from the checkout on the fleet. The batch
    is the rolling update's default unless one is asked for: no workflow has its own default."""
    for name in ("deploy", "drift", "rollout"):
        flow = workflow(name)
        scripts = run_scripts(flow)
        assert "--release-prefix" in scripts, name
        assert "--batch" in scripts, name
        inputs = (flow["on"].get("workflow_dispatch") or {}).get("inputs") or {}
        assert inputs.get("batch", {}).get("default", "") == "", name
        assert "%' }}" not in json.dumps(flow.get("env", {})), name
        assert "ansible-playbook" not in scripts, name
        env = {k for s in steps(flow, name) for k in s.get("env", {})}
        assert "LLM_FLEET_TARGET_GROUP_ARN" in env, name  # the rolling update's target group
    (update,) = yaml.safe_load((REPO / "playbooks/rolling_update.yml").read_text())
    assert update["serial"] == "{{ rolling_update_batch | default('25%') }}"


def test_drift_is_corrected_on_schedule_unless_set_to_report_only() -> None:
    """The schedule corrects (--correct); DRIFT_REPORT_ONLY or a manual report_only only
    reports and fails on drift; a run that cannot correct fails visibly; the report is in the
    job summary and an artifact either way."""
    flow = workflow("drift")
    assert flow["on"]["schedule"]
    assert "vars.DRIFT_REPORT_ONLY == 'true'" in flow["env"]["REPORT_ONLY"]
    scripts = run_scripts(flow)
    assert 'mode=(--correct ${BATCH:+--batch "$BATCH"})' in scripts
    assert 'if [ "$REPORT_ONLY" = true ]; then mode=(--fail-on-drift); fi' in scripts
    assert "python -m tools.drift --release-prefix" in scripts
    assert scripts.count("exit 1") >= 2 and "::error::drift not corrected" in scripts
    assert 'cat drift/drift.md >> "$GITHUB_STEP_SUMMARY"' in scripts
    (upload,) = [s for s in steps(flow, "drift") if s.get("uses", "").startswith("actions/upload")]
    assert upload["if"] == "always()" and "drift/*.json" in upload["with"]["path"]
