"""Small helpers the test modules share: running the project's tools and reading their output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from fleetlib.paths import REPO, venv_bin
from lab.config import podman_env


def tool_env(**extra: str) -> dict[str, str]:
    env = podman_env()
    env["PATH"] = f"{venv_bin('python').parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    # Under pytest-xdist each worker keeps its own fact cache: two ansible-playbook runs on
    # "localhost" at once would write the same cache file.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        env["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = str(REPO / ".cache" / f"facts-{worker}")
    env.update(extra)
    return env


def run_tool(
    *args: str | Path, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=REPO,
        env=tool_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_drift(
    *args: str | Path, timeout: float = 900, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m tools.drift ARGS` from the repository root, as an operator runs it."""
    return run_tool(venv_bin("python"), "-m", "tools.drift", *args, timeout=timeout, **env)


def check_role_on_controller(
    tmp_path: Path, role: str, variables: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    """Apply one role to the controller itself in check mode, with these extra variables: how
    the validation tests see a bad setting refused without anything here changing."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        f"  roles:\n    - fleet_wiring\n    - {role}\n"
    )
    return run_tool(
        venv_bin("ansible-playbook"),
        "--check",
        "-i",
        "localhost,",
        playbook,
        "-e",
        json.dumps({"ansible_python_interpreter": str(venv_bin("python")), **variables}),
        timeout=300,
    )


def refused_before_any_change(
    tmp_path: Path, role: str, variables: dict[str, object], message: str
) -> str:
    """The role, applied with these variables, stops at its checks with message (folded over
    lines in the output), before any user, folder or package task. Returns the output."""
    proc = check_role_on_controller(tmp_path, role, variables)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in " ".join(output.split()), output[-3000:]
    assert (
        "Create the user, folders and log file of" not in output
        and "Install the venv" not in output
    )
    return output


def unwrap(value: Any) -> Any:
    """`ansible-inventory --list` wraps untrusted strings as {"__ansible_unsafe": ...}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def inventory_list(inventory: Path, **env: str) -> dict[str, Any]:
    proc = run_tool(venv_bin("ansible-inventory"), "-i", inventory, "--list", timeout=120, **env)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = unwrap(json.loads(proc.stdout))
    return data


def group_hosts(inventory: dict[str, Any], group: str) -> set[str]:
    return set(inventory.get(group, {}).get("hosts", []))


def recap(output: str) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host of an ansible-playbook run."""
    counters: dict[str, dict[str, int]] = {}
    lines = output.split("PLAY RECAP", 1)[-1].splitlines()[1:]
    for line in lines:
        if ":" not in line or "ok=" not in line:
            continue
        host, _, rest = line.partition(":")
        counters[host.strip()] = {
            key: int(value) for key, value in (pair.split("=") for pair in rest.split())
        }
    return counters


def systemd_exposure(run: Any, unit: str) -> tuple[float, str]:
    """systemd's own measure of a unit's sandbox (`systemd-analyze security`; lower is safer; the
    project's bar is 4.0): the level and the report. run: a command runner that returns the
    output (testinfra's host.check_output)."""
    shown: str = run(f"systemd-analyze security {unit} --no-pager")
    _, _, verdict = shown.rpartition(f"Overall exposure level for {unit}:")
    return float(verdict.split()[0]), shown


def unit_properties(run: Any, unit: str, *names: str) -> dict[str, str]:
    """`systemctl show` of these properties of a unit, by name. run: a command runner that
    returns the output (testinfra's host.check_output)."""
    shown: str = run(f"systemctl show {unit} " + " ".join(f"-p {name}" for name in names))
    return dict(line.split("=", 1) for line in shown.splitlines())


def memory_limits(run: Any, unit: str) -> tuple[float, int, int]:
    """A unit's MemoryMax as a percentage of the host's memory (systemd resolves a share to
    bytes), its MemoryMax and its MemoryHigh in bytes (a ValueError when either is infinity)."""
    props = unit_properties(run, unit, "MemoryMax", "MemoryHigh")
    total = 1024 * int(run("awk '/MemTotal/ {print $2}' /proc/meminfo"))
    most, high = int(props["MemoryMax"]), int(props["MemoryHigh"])
    return 100 * most / total, most, high
