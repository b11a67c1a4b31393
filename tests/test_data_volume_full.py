"""A full data volume, produced on a size-limited mount (a 10 MiB tmpfs, never this machine's
disk): the Ollama TEST STAND-IN's pull fails as Ollama's does ("no space left on device"), the
command docs/troubleshooting.md gives to confirm it (`df -h <data dir>`) shows the volume full,
and its fix - removing a model no longer pinned, as the ollama role's prune does - frees the
space the next pull needs."""

from __future__ import annotations

import subprocess
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ollama_models import StandIn

MIB = 1024 * 1024


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "data"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=10m,mode=0755", "tmpfs", str(mount)],
                   check=True, timeout=30)  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False, timeout=30)


def use_percent(path: Path) -> int:
    """The documented confirmation: df -h on the data volume (its Use% column)."""
    out = subprocess.run(["df", "-h", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.splitlines()[1].split()[4].rstrip("%"))


def test_a_full_data_volume_fails_a_pull_by_name_and_pruning_frees_it(small_volume: Path) -> None:
    standin = StandIn(small_volume, model_bytes=4 * MIB)
    try:
        standin.pull(["old:1", "kept:1"])  # 8 MiB of 10
        with pytest.raises(urllib.error.HTTPError) as failed:
            standin.post("/api/pull", {"model": "new:1", "stream": False})
        error = failed.value.read().decode()
        assert "no space left on device" in error and "-partial" in error, error
        assert use_percent(small_volume) == 100
        assert standin.tags() == ["kept:1", "old:1"]  # nothing half-installed is listed

        standin.delete("old:1")  # what ollama_models_prune does to a model no longer pinned
        assert use_percent(small_volume) < 100
        standin.pull(["new:1"])
        assert standin.tags() == ["kept:1", "new:1"]
    finally:
        standin.stop()
