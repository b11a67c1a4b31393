"""The bake hash (fleetlib/bake.py) moves with the bake step's inputs and with nothing else: a
release that changes a service's settings reuses the image; one that changes a pin, a version
the install tasks read, or an install task file needs a new one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fleetlib.bake import BAKE_FILES, BAKED_ROLES, bake_hash, bake_inputs
from fleetlib.paths import REPO

TOOLCHAIN = ["ansible==1", "boto3==2"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The part of the repository the bake inputs are read from (and one file that is not)."""
    root = tmp_path / "repo"
    wanted = [*BAKE_FILES, "roles/fleet_wiring/defaults/main", "inventories/group_vars"]
    wanted += [f"roles/{role}/defaults/main.yml" for role in BAKED_ROLES]
    wanted += ["roles/open_webui/tasks/service.yml"]
    for name in wanted:
        source, target = REPO / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return root


def hash_of(root: Path, toolchain: list[str] = TOOLCHAIN) -> str:
    return bake_hash(bake_inputs(root / "inventories", toolchain, root))


def test_the_bake_hash_moves_with_the_bake_inputs_only(tree: Path) -> None:
    first = hash_of(tree)
    assert hash_of(tree) == first  # the same inputs, the same hash
    # A service setting is not a bake input: the image is reused.
    service = tree / "roles/open_webui/tasks/service.yml"
    service.write_text(service.read_text() + "\n# a new setting\n")
    defaults = tree / "roles/open_webui/defaults/main.yml"
    defaults.write_text(defaults.read_text() + "\nopen_webui_new_setting: 1\n")
    assert hash_of(tree) == first
    # A toolchain pin, a version the install tasks read, a host pin, an install task: new image.
    assert hash_of(tree, ["ansible==1", "boto3==3"]) != first
    group_vars = tree / "inventories/group_vars/all.yml"
    kept = group_vars.read_text()
    group_vars.write_text(kept + "\nollama_version: 9.9.9\n")
    assert hash_of(tree) != first
    group_vars.write_text(kept)
    assert hash_of(tree) == first
    pins = tree / "requirements-hosts.txt"
    pins.write_text(pins.read_text().replace("open-webui==", "open-webui==9", 1))
    changed = hash_of(tree)
    assert changed != first
    install = tree / "roles/ollama/tasks/install.yml"
    install.write_text(install.read_text() + "\n")
    assert hash_of(tree) not in (first, changed)


def test_a_missing_bake_input_is_refused_by_name(tree: Path) -> None:
    (tree / "roles/ollama/tasks/install.yml").unlink()
    with pytest.raises(SystemExit, match=r"roles/ollama/tasks/install\.yml missing"):
        hash_of(tree)
