"""terraform/ for the tests: read with python-hcl2, cleaned up (quotes off keys and plain strings,
parser markers dropped, every resource and local of every module listed with the module it lives
in), and the terraform binary run offline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from fleetlib.hcl import TERRAFORM, blocks, clean

TERRAFORM_BIN = shutil.which("terraform")
needs_terraform = pytest.mark.skipif(TERRAFORM_BIN is None, reason="terraform is not installed")


@dataclass(frozen=True)
class Block:
    module: str  # "." for the root module, "modules/<name>" otherwise
    type: str
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Config:
    resources: list[Block]
    data: list[Block]
    variables: dict[str, dict[str, Any]]  # "<module>:<name>" → variable block
    locals: dict[str, Any]  # "<module>:<name>" → value
    modules: dict[str, dict[str, Any]]  # module call name (root) → arguments

    def of_type(self, kind: str) -> list[Block]:
        return [r for r in self.resources if r.type == kind]

    def one(self, kind: str, name: str) -> Block:
        (block,) = [r for r in self.resources if r.type == kind and r.name == name]
        return block

    def default(self, variable: str, module: str = ".") -> Any:
        return self.variables[f"{module}:{variable}"].get("default")


def _labelled(blocks: list[dict[str, Any]], module: str) -> list[Block]:
    return [
        Block(module, kind, name, body)
        for block in blocks
        for kind, named in block.items()
        for name, body in named.items()
    ]


@cache
def load() -> Config:
    resources: list[Block] = []
    data: list[Block] = []
    variables: dict[str, dict[str, Any]] = {}
    local_values: dict[str, Any] = {}
    modules: dict[str, dict[str, Any]] = {}
    for path in sorted(TERRAFORM.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        module = str(path.parent.relative_to(TERRAFORM))
        with path.open() as handle:
            parsed = clean(hcl2.load(handle))
        resources += _labelled(parsed.get("resource", []), module)
        data += _labelled(parsed.get("data", []), module)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                variables[f"{module}:{name}"] = body
        for block in parsed.get("locals", []):
            for name, value in block.items():
                local_values[f"{module}:{name}"] = value
        if module == ".":
            for block in parsed.get("module", []):
                modules.update(block)
    return Config(resources, data, variables, local_values, modules)


def checkov_skips() -> list[tuple[Path, str, str]]:
    """Every inline `#checkov:skip=ID:reason` under terraform/: (file, check id, reason)."""
    pattern = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$")
    skips = []
    for path in sorted(TERRAFORM.rglob("*.tf")):
        for line in path.read_text().splitlines():
            match = pattern.search(line)
            if match:
                skips.append((path, match.group(1), (match.group(2) or "").strip()))
    return skips


def terraform(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The terraform binary, offline and without prompts (no CLI configuration of the machine's)."""
    assert TERRAFORM_BIN
    return subprocess.run(
        [TERRAFORM_BIN, *args, "-no-color"],
        cwd=cwd,
        env={
            **os.environ,
            "TF_CLI_CONFIG_FILE": "/dev/null",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def load_outputs() -> dict[str, Any]:
    """The root module's outputs by name."""
    return blocks(TERRAFORM / "outputs.tf", "output")
