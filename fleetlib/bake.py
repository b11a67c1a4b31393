"""The bake hash: what a gpu-node image is built from, and nothing else.

The bake step (tools/image_bake.py: site.yml's `install`-tagged tasks on a bare host, marked
fleet_image_build) installs what does not depend on the host. Its inputs are exactly:
  base       the base image (Debian 12; the lab adds its own image's name, itself a hash of the
             debootstrap inputs)
  files      the bake step's own files (BAKE_FILES, each by SHA-256): requirements-hosts.txt,
             which pins every package of every venv, and the task files that install
  values     the install tasks' versions and choices (BAKE_VALUES), as the inventory resolves
             them for a gpu-node: the driver and CUDA, Ollama, the agents, the venvs' packages
  toolchain  the apply toolchain's pins (ansible, boto3, ...), the venv a host applies with
The hash is the SHA-256 of that document as canonical JSON. The release records the hash it
expects (BAKE.json in the artifact, `bake` in the SSM record) and the image the hash it was
built with (/etc/llm-fleet/image.json): equal, a host fetches the thin release; not, the full
one. A release that changes none of these inputs reuses the image."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import yaml

from fleetlib.paths import REPO
from fleetlib.wiring import WIRING

BASE = "debian-12-bookworm-amd64"
# The bake step's own files, relative to the repository.
BAKE_FILES = (
    "requirements-hosts.txt",
    "tools/image_bake.py",
    "tools/host_apply.py",
    "roles/fleet_common/tasks/venv.yml",
    "roles/fleet_common/tasks/artifact.yml",
    "roles/fleet_common/files/pins_satisfied.py",
    "plugins/modules/fleet_skeleton.py",
    "plugins/modules/fleet_installed_packages.py",
    "plugins/filter/fleet_packages.py",
    "roles/nvidia_cuda/tasks/install.yml",
    "roles/nvidia_cuda/tasks/plan.yml",
    "roles/nvidia_cuda/tasks/repository.yml",
    "roles/nvidia_cuda/tasks/key_fingerprint.yml",
    "roles/nvidia_cuda/tasks/packages.yml",
    "roles/nvidia_cuda/vars/Debian.yml",
    "roles/nvidia_cuda/vars/Ubuntu.yml",
    "roles/ollama/tasks/install.yml",
    "roles/open_webui/tasks/install.yml",
    "roles/chromadb_rag/tasks/install.yml",
    "roles/cloudwatch_agent/tasks/install.yml",
    "roles/cloudwatch_agent/tasks/package.yml",
    "roles/ssm_agent/tasks/install.yml",
    "roles/ssm_agent/tasks/package.yml",
    "roles/security_baseline/tasks/install.yml",
)
# The install tasks' versions and choices; the roles whose defaults hold them.
BAKE_VALUES = (
    "nvidia_cuda_driver_source",
    "nvidia_cuda_driver_branch",
    "nvidia_cuda_open_kernel_modules",
    "nvidia_cuda_toolkit",
    "nvidia_cuda_toolkit_version",
    "nvidia_cuda_container_toolkit",
    "ollama_version",
    "ollama_archive_checksum",
    "open_webui_version",
    "open_webui_torch_requirement",
    "open_webui_extra_packages",
    "chromadb_rag_torch_requirement",
    "chromadb_rag_packages",
    "cloudwatch_agent_version",
    "cloudwatch_agent_package_checksum",
    "ssm_agent_version",
    "ssm_agent_package_checksum",
    "security_baseline_unattended_upgrades",
    "security_baseline_auditd",
)
BAKED_ROLES = (
    "nvidia_cuda",
    "ollama",
    "open_webui",
    "chromadb_rag",
    "cloudwatch_agent",
    "ssm_agent",
    "security_baseline",
)


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    values: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return values


def resolved_values(inventory: Path, root: Path = REPO) -> dict[str, Any]:
    """BAKE_VALUES as Ansible resolves them for a gpu-node of this inventory (the wiring and the
    baked roles' defaults, then the inventory's group_vars for all and role_gpu_node)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar, trust_as_template

    with warnings.catch_warnings():  # a second call finds the loader already set up
        warnings.simplefilter("ignore")
        init_plugin_loader()

    variables: dict[str, Any] = {}
    for part in sorted((root / WIRING.relative_to(REPO)).glob("*.yml")):
        variables.update(_yaml(part))
    for role in BAKED_ROLES:
        variables.update(_yaml(root / "roles" / role / "defaults" / "main.yml"))
    for group in ("all", "role_gpu_node"):
        variables.update(_yaml(inventory / "group_vars" / f"{group}.yml"))
    variables["inventory_dir"] = str(inventory)
    # The wiring finds the repository from its own role's folder.
    variables["role_path"] = str(root / "roles" / "fleet_wiring")

    def trusted(value: Any) -> Any:
        if isinstance(value, str):
            return trust_as_template(value)
        if isinstance(value, list):
            return [trusted(v) for v in value]
        if isinstance(value, dict):
            return {k: trusted(v) for k, v in value.items()}
        return value

    templar = Templar(loader=DataLoader(), variables=trusted(variables))
    return {name: templar.template(trust_as_template("{{ " + name + " }}")) for name in BAKE_VALUES}


def bake_inputs(
    inventory: Path, toolchain: list[str], root: Path = REPO, base: str = BASE
) -> dict[str, Any]:
    """The bake step's inputs (see the module's docstring): a JSON-ready document."""
    missing = [name for name in BAKE_FILES if not (root / name).is_file()]
    if missing:
        raise SystemExit(f"bake: {', '.join(missing)} missing from {root}")
    return {
        "base": base,
        "files": {name: sha256_file(root / name) for name in BAKE_FILES},
        "values": resolved_values(inventory, root),
        "toolchain": sorted(toolchain),
    }


def bake_hash(inputs: dict[str, Any]) -> str:
    """The SHA-256 of the inputs as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
