"""A new gpu-node from a bare image against one from the baked image, side by side in one run on
the lab, and the no-op runs that a baked host's own apply is close to.

  .venv/bin/python -m benchmarks.baked       (needs `make lab`: site.yml converged)

Prints:
  1. a no-op site.yml over every lab host from the controller (wall time, and the ten slowest
     tasks from ansible.posix.profile_tasks);
  2. scale-out, baked and unbaked (lab scale's phases, each timed; the release each fetched and
     its size), the baked one first so that both use the same published release;
  3. the baked scaled-out host's own apply of its release (connection local, as host_apply runs it);
  4. an estimate for a g5.xlarge on AWS, with its sources.
The scaled-out hosts are scaled in again at the end (the lab is left as it was).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from fleetlib.paths import REPO, venv_bin
from lab.config import AVAILABILITY_ZONES, REGION, STATE_DIR, lab_imds_endpoint, podman_env
from lab.ec2 import sdk_env
from lab.scale import ScaledOut, scale_in, scale_out
from lab.state import LabState
from tools.host_apply import HOST_WHEELS

# Published figures the AWS estimate rests on.
SOURCES = {
    "driver": "NVIDIA's DKMS module build at boot: 2-10 min per host (issue 25's published "
    "figures for GPU nodes compiling the driver at boot)",
    "wheels": "torch's CUDA build and its NVIDIA libraries: ~3 GB from S3 (the release's "
    "BESIDE.json); S3 to one EC2 instance at ~100-300 MB/s (AWS S3 performance guidelines: "
    "per-connection throughput)",
    "boot": "an EBS-backed AMI boots to user data in ~30-60 s (EC2 documentation: instance "
    "launch; first-touch EBS reads from a snapshot are lazily loaded)",
}


def state_now() -> LabState:
    state = LabState.load()
    if state is None:
        raise SystemExit("the lab is not up: `make lab` first")
    return state


def sizes(built_dir: Path) -> dict[str, float]:
    """The release's artifacts (MiB): the full one with the wheels beside it, and the thin one."""
    manifest = json.loads(sorted(built_dir.glob("*.manifest.json"))[-1].read_text())
    full = (built_dir / manifest["artifact"]).stat().st_size
    beside = sum(b["bytes"] for b in manifest["beside"])
    thin = (built_dir / manifest["thin_artifact"]).stat().st_size
    return {"full": (full + beside) / 2**20, "thin": thin / 2**20}


def scaled(baked: bool) -> ScaledOut:
    state = state_now()
    zones = [h.zone for h in state.hosts]
    return scale_out(state, min(AVAILABILITY_ZONES, key=zones.count), baked=baked)


def noop_from_controller() -> tuple[float, list[str]]:
    """site.yml over the lab with nothing to change: wall time and the slowest tasks."""
    env = {
        **os.environ,
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "10",
    }
    started = time.monotonic()
    run = subprocess.run(
        [str(venv_bin("ansible-playbook")), "-i", "inventories/lab", "site.yml"],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=1800,
        env=env,
    )  # fmt: skip
    took = time.monotonic() - started
    if re.search(r"changed=[1-9]", run.stdout):
        raise SystemExit("the no-op run changed something: converge the lab first")
    slowest = [line for line in run.stdout.splitlines() if re.search(r"-{3,} \d+\.\d+s$", line)]
    return took, slowest[:10]


def own_apply(host: str, endpoint: str) -> float:
    """The host's own site.yml from its applied release (connection local), as host_apply runs
    it, with nothing to change."""
    release = "/opt/llm-fleet/current"
    own = f"{release}/inventories/lab/self.aws_ec2.yml"
    wheels = f"{release}/{HOST_WHEELS}"
    env = {**sdk_env(endpoint, REGION), "AWS_EC2_METADATA_SERVICE_ENDPOINT": lab_imds_endpoint()}
    started = time.monotonic()
    subprocess.run(
        ["podman", "exec", "-w", release, *[f"--env={k}={v}" for k, v in env.items()], host,
         "/opt/llm-fleet/venv/bin/ansible-playbook", "-i", own, "site.yml",
         "-e", f"open_webui_pip_find_links={wheels} chromadb_rag_pip_find_links={wheels}",
         "-e", "open_webui_pip_no_index=true chromadb_rag_pip_no_index=true"],
        check=True, capture_output=True, env=podman_env(), timeout=1800,
    )  # fmt: skip
    return time.monotonic() - started


def main() -> int:
    hosts = len(state_now().hosts)
    noop, slowest = noop_from_controller()  # the lab as `make lab` leaves it
    runs = {}
    for baked in (True, False):
        runs["baked" if baked else "unbaked"] = scaled(baked)
        if baked:
            own = own_apply(runs["baked"].host.name, state_now().endpoint)
        scale_in(state_now())
    released = sizes(STATE_DIR / "release")
    phases = sorted({p for r in runs.values() for p in r.seconds}, key=lambda p: list(
        runs["unbaked"].seconds).index(p) if p in runs["unbaked"].seconds else -1)  # fmt: skip
    print(f"{'phase':<36} {'baked':>9} {'unbaked':>9}")
    for phase in phases:
        cells = [f"{runs[k].seconds[phase]:8.1f}s" if phase in runs[k].seconds else "        -"
                 for k in ("baked", "unbaked")]  # fmt: skip
        print(f"{phase:<36} {cells[0]:>9} {cells[1]:>9}")
    print(f"{'release fetched (MiB)':<36} {released['thin']:8.1f}  {released['full']:8.1f}")
    print(f"\nno-op site.yml over {hosts} lab hosts from the controller: {noop:.1f}s")
    print("slowest tasks:\n  " + "\n  ".join(slowest))
    print(f"the baked host's own apply (connection local), nothing to change: {own:.1f}s")
    print("\nEstimate for a g5.xlarge on AWS (not measured here):")
    print("  unbaked: boot ~1 min + apt and the driver's DKMS build 2-10 min + ~3 GB of wheels "
          "0.5 min + venvs and converge as measured above: ~8-16 min")  # fmt: skip
    print("  baked:   boot ~1 min + thin release and converge as measured above: ~2-3 min")
    for name, source in SOURCES.items():
        print(f"  source ({name}): {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
