"""The wiring layer (roles/fleet_wiring): every play lists it first, every entry point resolves
the same values with an inventory's overrides winning, no role, playbook or inventory keeps a
copy of a wired value, and the rolling update applies what site.yml gives a GPU host."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetlib.paths import REPO, venv_bin
from fleetlib.wiring import wiring_defaults
from tests.helpers import run_tool

WIRED = wiring_defaults()
ENTRY_POINTS = ["site.yml", "playbooks/rolling_update.yml", "molecule/default/converge.yml"]


def plays_of(playbook: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every play a playbook runs, following import_playbook."""
    plays: list[tuple[Path, dict[str, Any]]] = []
    for play in yaml.safe_load(playbook.read_text()):
        imported = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if imported:
            plays += plays_of((playbook.parent / imported).resolve())
        else:
            plays.append((playbook, play))
    return plays


def role_names(play: dict[str, Any]) -> list[str]:
    return [r["role"] if isinstance(r, dict) else r for r in play.get("roles", [])]


PLAYBOOKS = sorted(
    {*REPO.glob("playbooks/*.yml"), *REPO.glob("roles/*/molecule/default/*.yml")}
    | {*REPO.glob("tests/playbooks/*.yml"), REPO / "site.yml"}
)


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_play_with_roles_lists_the_wiring_first(playbook: Path) -> None:
    if playbook.name == "molecule.yml":
        return
    for source, play in plays_of(playbook):
        roles = role_names(play)
        if roles:
            assert roles[0] == "fleet_wiring", f"{source}: {play.get('name')} starts with {roles}"


def test_rolling_update_applies_what_site_yml_gives_a_gpu_host() -> None:
    applied = []
    for _, play in plays_of(REPO / "site.yml"):
        hosts = str(play["hosts"])
        if hosts == "all" or "role_gpu_node" in hosts.split(":"):
            applied += [name for name in role_names(play) if name != "fleet_wiring"]
    assert applied == WIRED["fleet_gpu_node_roles"]
    (_, rolling), *_ = plays_of(REPO / "playbooks" / "rolling_update.yml")
    assert rolling["hosts"] == "role_gpu_node"
    assert any(t.get("loop") == "{{ fleet_gpu_node_roles }}" for t in rolling["tasks"])


# Where wired values must not be written out again (only derived from the wiring).
COPY_ROOTS = ["roles", "playbooks", "inventories", "site.yml", "lab", "terraform", "molecule"]
SUFFIXES = {".yml", ".j2", ".py", ".cfg", ".tf", ".tftpl"}
LITERALS = {
    name: str(value)
    for name, value in WIRED.items()
    if name.endswith("_port") or name.endswith("_dir")
}


def test_no_copy_of_a_wired_port_or_folder() -> None:
    copies = []
    for root in COPY_ROOTS:
        paths = [REPO / root] if (REPO / root).is_file() else (REPO / root).rglob("*")
        for path in paths:
            if not path.is_file() or path.suffix not in SUFFIXES:
                continue
            if "fleet_wiring" in path.parts or ".terraform" in path.parts:
                continue
            text = path.read_text()
            for name, literal in LITERALS.items():
                if re.search(rf"(?<![\w.]){re.escape(literal)}(?![\w])", text):
                    copies.append(f"{path.relative_to(REPO)}: {literal} ({name})")
    assert not copies, copies


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The wiring every entry point resolves on a two-host inventory (the controller as a GPU
    host and a RAG host) whose group_vars move Ollama to another port."""
    base = tmp_path_factory.mktemp("wiring")
    inventory = base / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": str(venv_bin("python"))}
    (inventory / "hosts.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "children": {
                        "role_gpu_node": {"hosts": {"gpu-a": local}},
                        "role_rag_node": {"hosts": {"rag-a": local}},
                    }
                }
            }
        )
    )
    (inventory / "group_vars" / "all.yml").write_text("ollama_port: 11999\n")
    results: dict[str, dict[str, Any]] = {}
    for entry in ENTRY_POINTS:
        dump = base / entry.replace("/", "_")
        dump.mkdir()
        proc = run_tool(
            venv_bin("ansible-playbook"),
            "-i",
            inventory,
            REPO / entry,
            "--tags",
            "fleet_wiring",
            "-e",
            json.dumps({"fleet_wiring_dump_dir": str(dump), "fleet_target_group_name": "t"}),
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        results[entry] = {p.stem: json.loads(p.read_text()) for p in dump.glob("*.json")}
    return results


def test_every_entry_point_resolves_the_same_wiring(resolved: dict[str, Any]) -> None:
    site = resolved["site.yml"]
    assert set(site) == {"gpu-a", "rag-a"}
    assert resolved["molecule/default/converge.yml"] == site
    assert resolved["playbooks/rolling_update.yml"]["gpu-a"] == site["gpu-a"]
    assert set(site["gpu-a"]) == set(WIRED) | {"fleet_gpus", "fleet_state", "fleet_secrets"}


def test_an_inventory_override_wins_and_the_derived_urls_follow(resolved: dict[str, Any]) -> None:
    for entry, hosts in resolved.items():
        wired = hosts["gpu-a"]
        assert wired["ollama_port"] == 11999, entry
        assert wired["ollama_url"] == "http://127.0.0.1:11999", entry
        assert wired["open_webui_internal_url"] == f"http://{wired['fleet_private_address']}:8080"


def test_every_python_pin_is_written_once_in_requirements_hosts() -> None:
    """Roles pin through fleet_python_pins (read from requirements-hosts.txt), never by hand."""
    pins = re.compile(r"[A-Za-z0-9_.-]+==[0-9]")
    written = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in (REPO / "roles").rglob("*")
        if path.is_file() and path.suffix in {".yml", ".j2"} and "molecule" not in path.parts
        for line in path.read_text().splitlines()
        if pins.search(line) and "regex_replace" not in line
    ]
    makefile = (REPO / "Makefile").read_text()
    assert not written and not pins.search(makefile), written
