"""The ollama role's GPU proof. On a host without a GPU - the lab's: the Ollama TEST STAND-IN
answers /api/ps as Ollama does on a CPU-only host, every loaded model with size_vram 0 - the
role's gpu tasks load the pinned model and fail, naming it and saying what to check, before the
host could serve slowly from the CPU. The filter behind it is checked on /api/ps answers of
each kind (wholly on the GPU, split, on the CPU, not loaded)."""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetlib.paths import REPO, venv_bin
from tests.helpers import run_tool
from tests.ollama_models import StandIn

STANDIN = REPO / "tests" / "fixtures" / "ollama_standin" / "ollama"
MODEL = "tiny:1"


def ollama_not_in_gpu(*args: Any, **kwargs: Any) -> list[str]:
    """The role's filter (roles/ollama/filter_plugins/ollama_gpu.py)."""
    path = REPO / "roles" / "ollama" / "filter_plugins" / "ollama_gpu.py"
    spec = importlib.util.spec_from_file_location("ollama_gpu", path)
    assert spec and spec.loader
    filters = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(filters)
    found: list[str] = filters.ollama_not_in_gpu(*args, **kwargs)
    return found


def test_models_wholly_in_gpu_memory_pass_and_others_are_named() -> None:
    ps = [
        {"name": "a:1", "size": 1000, "size_vram": 1000},
        {"name": "b:1", "size": 1000, "size_vram": 600},
        {"name": "c:1", "size": 1000, "size_vram": 0},
    ]
    assert ollama_not_in_gpu(ps, ["a:1"]) == []
    assert ollama_not_in_gpu(ps, ["a:1", "b:1", "c:1", "d:1"]) == [
        "b:1 (60 % of 1000 bytes in GPU memory)",
        "c:1 (0 % of 1000 bytes in GPU memory)",
        "d:1 (not loaded)",
    ]
    assert ollama_not_in_gpu(ps, ["b:1"], min_fraction=0.5) == []


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[str]:
    server = StandIn(tmp_path)
    try:
        server.pull([MODEL])
        yield server.url
    finally:
        server.stop()


def test_a_host_whose_ollama_runs_on_the_cpu_fails_naming_the_model(
    tmp_path: Path, standin: str
) -> None:
    playbook = tmp_path / "gpu.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.include_role: {name: ollama, tasks_from: gpu}\n"
    )
    variables = {
        "ansible_python_interpreter": str(venv_bin("python")),
        "ollama_url": standin,
        "ollama_models": [MODEL],
        "ollama_keep_alive": "5m",
    }
    proc = run_tool(
        venv_bin("ansible-playbook"), "-i", "localhost,", playbook, "-e", json.dumps(variables),
        timeout=300,
    )  # fmt: skip
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 2, output[-3000:]
    assert "Ollama runs tiny:1 (0 % of" in output and "from the CPU, not the GPU" in output
    assert "ls -l /dev/nvidia-uvm" in output
    # The warm-up loaded it: /api/ps lists it, in CPU memory, until keep_alive runs out.
    with urllib.request.urlopen(f"{standin}/api/ps", timeout=10) as response:
        (loaded,) = json.loads(response.read())["models"]
    assert loaded["name"] == MODEL and loaded["size_vram"] == 0 and loaded["size"] > 0
