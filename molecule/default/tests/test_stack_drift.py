"""Drift on the whole stack: hand changes, each named by tools/drift.py (site.yml in check+diff
mode) run from the lab's recorded release (the one its scale-out published, fetched from S3 and
checked, as the scheduled correction does) - the settings that differ by name, a secret's value
never: a known secret planted in each kind of configuration file the roles write reaches no
report, log or output of the run. One run with --correct: its check names the changes
(drift.json), then it corrects the rag-node with site.yml and the gpu-node through the rolling
update (out of the target group, its roles, the health gate, back in), then checks the corrected
hosts again, which must find nothing (--fail-on-drift's exit status is tests/test_drift.py's).
Limited to the two hosts changed (a gpu-node and the rag-node): the other gpu-node is configured
alike."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import subprocess
from typing import Any

from lab_stack import GPU_HOST, RAG_HOST, lab_host

from fleetlib.paths import REPO
from fleetlib.wiring import wired
from lab.aws import state_prefix
from lab.ec2 import sdk_env
from lab.state import LabState
from tests.helpers import run_drift

REPORTS = REPO / "artifacts" / "drift"
DELETE_MODEL = (
    f"import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:{wired('ollama_port')}/api/delete',"
    " data=b'{\"model\": \"qwen2.5:0.5b\"}', method='DELETE'))"
)
# A secret planted by hand in every kind of configuration file the roles write with fleet_config.
PLANTED = f"planted-{secrets.token_hex(12)}"
OPEN_WEBUI_ENV = "/etc/open-webui/open-webui.env"
# Hand changes, and the (host, task) of site.yml that must report each.
TAMPERS = [
    (
        "the database password in Open WebUI's environment changed",
        GPU_HOST,
        f"sed -i 's|^\\(DATABASE_URL=[^:]*://[^:]*:\\)[^@]*@|\\1{PLANTED}@|' {OPEN_WEBUI_ENV}",
        "fleet_common : Write the environment, unit and sandbox of open-webui.service",
    ),
    (
        "sign-up opened (a security setting, not a secret)",
        GPU_HOST,
        f"sed -i 's/^ENABLE_SIGNUP=.*/ENABLE_SIGNUP=True/' {OPEN_WEBUI_ENV}",
        "fleet_common : Write the environment, unit and sandbox of open-webui.service",
    ),
    (
        "a token written into the sysctl profile",
        GPU_HOST,
        f"echo 'llm_fleet.api_token={PLANTED}' >> /etc/sysctl.d/90-llm-fleet.conf",
        "kernel_tuning : Write the sysctl profile",
    ),
    (
        "a secret key put into the CloudWatch agent's configuration",
        GPU_HOST,
        shlex.join(
            [
                "python3",
                "-c",
                (
                    "import json, sys; p = sys.argv[1]; c = json.load(open(p));"
                    f" c['credentials'] = {{'secret_key': '{PLANTED}'}}; json.dump(c, open(p, 'w'))"
                ),
                "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
            ]
        ),
        "cloudwatch_agent : Write the agent config",
    ),
    (
        "a password in a comment of the audit rules",
        RAG_HOST,
        f"echo '# password={PLANTED}' >> /etc/audit/rules.d/50-llm-fleet.rules",
        "security_baseline : Write the fleet's audit rules",
    ),
    (
        "a proxy password in the unattended-upgrades settings",
        RAG_HOST,
        f"echo 'Acquire::http::Password \"{PLANTED}\";'"
        " >> /etc/apt/apt.conf.d/52llm-fleet-unattended-upgrades",
        "security_baseline : Upgrade from the security archive only, never rebooting",
    ),
    (
        "a sysctl changed by hand",  # lab containers cannot set sysctls: the profile is edited
        GPU_HOST,
        "sed -i 's/^vm.swappiness=.*/vm.swappiness=60/' /etc/sysctl.d/90-llm-fleet.conf",
        "kernel_tuning : Write the sysctl profile",
    ),
    (
        "a service stopped and disabled",
        RAG_HOST,
        "systemctl disable --now amazon-cloudwatch-agent.service",
        "cloudwatch_agent : Start the agent at boot",
    ),
    (
        "a unit file edited",
        GPU_HOST,
        "echo '# edited by hand' >> /etc/systemd/system/open-webui.service",
        "fleet_common : Write the environment, unit and sandbox of open-webui.service",
    ),
    (
        "a secret's mode changed",
        RAG_HOST,
        "chmod 0644 /etc/chroma/token",
        "fleet_common : Keep the secrets of chroma.service",
    ),
    (
        "a pre-pulled model removed",
        GPU_HOST,
        shlex.join(["python3", "-c", DELETE_MODEL]),
        "ollama : Report the models a real run would pull or remove",
    ),
    (
        "a document deleted from the RAG index",  # before the token rotation below
        RAG_HOST,
        "set -a; . /etc/fleet-rag/fleet-rag.env; set +a; "
        "runuser -u rag -- /opt/fleet-rag/venv/bin/fleet-rag delete quasar-bakery.txt",
        "chromadb_rag : Ingest the documents",
    ),
    (
        "a document the corpus does not hold put on the rag-node",
        RAG_HOST,
        f"echo 'A stray note.' > {wired('fleet_data_dir')}/documents/stray-notes.txt",
        "chromadb_rag : Remove the documents gone from the source folder",
    ),
    (
        "the Chroma token rotated by hand",
        RAG_HOST,
        "printf rotated-by-hand-0123456789 > /etc/chroma/token",
        # The token is the fleet's (Secrets Manager): the check finds the file differs from it.
        "fleet_common : Keep the secrets of chroma.service",
    ),
]


def drift(*flags: str) -> subprocess.CompletedProcess[str]:
    state = LabState.load()
    assert state is not None, "the lab is not up"
    proc = run_drift(
        "-i", "inventories/lab", "--out", REPORTS, "--limit", f"{GPU_HOST},{RAG_HOST}",
        "--release-prefix", state_prefix(), *flags, timeout=1800, **sdk_env(state.endpoint),
    )  # fmt: skip
    print(proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def report(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPORTS / name).read_text())
    return data


def settings(name: str, task: str) -> list[str]:
    """The settings drift.json names for one host's task."""
    changes = report("drift.json")["hosts"][name]["changed"]
    return [s for change in changes if task in change["task"] for s in change["settings"]]


def leaks(value: str, *runs: subprocess.CompletedProcess[str]) -> list[str]:
    """Where a value appears among the runs' outputs and every report and log they wrote (the
    unpacked release aside: it is the published artifact, not a report)."""
    found = [
        f"output of {' '.join(run.args[3:5])}" for run in runs if value in run.stdout + run.stderr
    ]
    files = [
        p
        for p in REPORTS.rglob("*")
        if p.is_file() and "release" not in p.relative_to(REPORTS).parts
    ]
    return found + [str(p) for p in files if value in p.read_text(errors="replace")]


def test_hand_changes_are_detected_then_corrected() -> None:
    env = lab_host(GPU_HOST).file(OPEN_WEBUI_ENV).content_string
    database_password = re.search(r"^DATABASE_URL=[^:]*://[^:]*:([^@]+)@", env, re.M)
    assert database_password is not None
    since = lab_host(GPU_HOST).check_output("date '+%Y-%m-%d %H:%M:%S'")
    for _, name, command, _ in TAMPERS:
        lab_host(name).check_output(command)
    run = drift("--correct")
    assert run.returncode == 0
    assert report("result.json")["drifted"], "the check before the correction found nothing"
    changed = {
        (host, task["task"])
        for host, result in report("drift.json")["hosts"].items()
        for task in result["changed"]
    }
    for what, name, _, task in TAMPERS:
        assert any(h == name and task in t for h, t in changed), f"{what} not reported: {changed}"
    assert settings(GPU_HOST, "Write the environment, unit and sandbox of open-webui.service") == [
        f"{OPEN_WEBUI_ENV}: ENABLE_SIGNUP: False -> True",  # in the environment file's order
        f"{OPEN_WEBUI_ENV}: DATABASE_URL: changed (secret)",
        "/etc/systemd/system/open-webui.service: added: # edited by hand",
    ]
    assert "llm_fleet.api_token: added (secret)" in settings(GPU_HOST, "sysctl profile")
    assert settings(GPU_HOST, "Write the agent config") == [
        "credentials.secret_key: added (secret)"
    ]
    assert settings(RAG_HOST, "audit rules") == [
        "/etc/audit/rules.d/50-llm-fleet.rules: added: # password=<secret>"
    ]
    upgrades = "/etc/apt/apt.conf.d/52llm-fleet-unattended-upgrades"
    assert f'{upgrades}: added: Acquire::http::Password "<secret>";' in settings(
        RAG_HOST, "Upgrade from"
    )
    for secret in (PLANTED, database_password.group(1), "rotated-by-hand"):
        assert leaks(secret, run) == [], "a secret reached a report or a log"
    outcome = report("result.json")
    assert outcome["release"].startswith("lab-"), outcome["release"]
    gpu_corrected = outcome["corrected"][GPU_HOST]
    for gate in ("Take the host out of the load balancer", "Put the host back"):
        assert any(task.startswith(gate) for task in gpu_corrected), gpu_corrected
    assert outcome["not_corrected"] == {}
    # The correction restarted the gpu-node's two-worker Open WebUI: it stopped when its
    # processes had, not at systemd's stop timeout (90 s, then SIGKILL).
    journal = lab_host(GPU_HOST).check_output(
        "journalctl -u open-webui.service --no-pager --since %s", since
    )
    assert "Stopped open-webui.service" in journal
    assert "timed out" not in journal and "SIGKILL" not in journal, journal[-2000:]
    # The check after the correction is a drift run on a clean stack: it must find nothing.
    assert all(not host["changed"] for host in report("after.json")["hosts"].values())
    assert lab_host(RAG_HOST).service("amazon-cloudwatch-agent.service").is_enabled
    stray = lab_host(RAG_HOST).file(f"{wired('fleet_data_dir')}/documents/stray-notes.txt")
    assert not stray.exists
