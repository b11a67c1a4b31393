"""A bad kernel_tuning variable stops the play before any change, naming the variable.

The play targets the controller itself in check mode, with the role's files pointed into a
temporary folder: whatever happens, nothing on this machine changes, and the tests assert
that not even the temporary files appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import check_role_on_controller


def run_role(tmp_path: Path, **variables: object) -> tuple[int, str, Path]:
    sysctl_file = tmp_path / "sysctl.conf"
    extra = {"kernel_tuning_sysctl_file": str(sysctl_file), **variables}
    extra["kernel_tuning_limits_file"] = str(tmp_path / "limits.conf")
    proc = check_role_on_controller(tmp_path, "kernel_tuning", extra)
    return proc.returncode, proc.stdout + proc.stderr, sysctl_file


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("kernel_tuning_vm_swappiness", "lots", "kernel_tuning_vm_swappiness"),
        ("kernel_tuning_limits_users", {"ollama": 1}, "kernel_tuning_limits_users"),
        ("kernel_tuning_thp_enabled", "sometimes", "kernel_tuning_thp_enabled"),
        ("kernel_tuning_vm_overcommit_memory", 3, "kernel_tuning_vm_overcommit_memory"),
    ],
)
def test_wrong_type_or_choice_is_refused_by_the_argument_spec(
    tmp_path: Path, variable: str, value: object, message: str
) -> None:
    rc, output, sysctl_file = run_role(tmp_path, **{variable: value})
    assert rc != 0
    assert "Validating arguments against arg spec" in output
    assert message in output
    assert not sysctl_file.exists()
    assert "Install procps" not in output  # no task after validation ran


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("kernel_tuning_vm_swappiness", 500),
        ("kernel_tuning_net_core_somaxconn", 16),
        ("kernel_tuning_limits_nofile", 10),
    ],
)
def test_out_of_range_value_is_refused_before_any_change(
    tmp_path: Path, variable: str, value: int
) -> None:
    rc, output, sysctl_file = run_role(tmp_path, **{variable: value})
    assert rc != 0
    assert f"{variable} = {value} is out of range" in output
    assert not sysctl_file.exists()
    assert "Install procps" not in output


def test_bad_memlock_is_refused(tmp_path: Path) -> None:
    rc, output, _ = run_role(tmp_path, kernel_tuning_limits_memlock="lots")
    assert rc != 0
    assert "kernel_tuning_limits_memlock must be a number of KiB" in output


def test_a_security_key_that_is_no_sysctl_name_is_refused(tmp_path: Path) -> None:
    rc, output, sysctl_file = run_role(
        tmp_path, kernel_tuning_security_sysctl={"kernel kptr restrict": 2}
    )
    assert rc != 0 and "must be dotted sysctl names" in " ".join(output.split())
    assert "kernel kptr restrict" in output and not sysctl_file.exists()
