"""One home for each helper: no two test files share a name (pytest and a reader would confuse
them), the repository root is defined in one place (fleetlib.paths.REPO), production tools stand
on their own (nothing under tools/ imports the lab, and no modules import each other in a loop),
and each of the release's places is spelled once."""

from __future__ import annotations

import ast
import re
from collections import Counter

from fleetlib.paths import REPO

SKIP = {".venv", ".venv-rag", ".venv-checkov", ".cache", ".git", "artifacts", ".lab"}


def project_files(pattern: str) -> list[str]:
    return [
        str(path.relative_to(REPO))
        for path in REPO.rglob(pattern)
        if not SKIP.intersection(path.relative_to(REPO).parts)
    ]


def test_no_two_test_files_share_a_name() -> None:
    names = Counter(path.rsplit("/", 1)[-1] for path in project_files("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_the_repository_root_is_defined_once_per_python_project() -> None:
    root = re.compile(r"^\s*REPO\s*=", re.MULTILINE)
    defined = sorted(p for p in project_files("*.py") if root.search((REPO / p).read_text()))
    # The controller's packages (fleetlib) and fleet-rag's test helpers, a project of its own.
    assert defined == ["fleetlib/paths.py", "rag/testing/fleet_rag_testing/servers.py"]


# The controller's Python packages, whose imports of one another are checked.
PACKAGES = ("fleetlib", "tools", "lab", "maintenance", "benchmarks", "tests", "plugins")


def module_name(path: str) -> str:
    name = path.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


def imports() -> dict[str, set[str]]:
    """Per module of the controller's packages, the modules of those packages it imports (at its
    top or inside a function: both run)."""
    modules = {module_name(p): p for p in project_files("*.py") if p.split("/", 1)[0] in PACKAGES}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse((REPO / path).read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_production_tools_import_neither_the_lab_nor_the_tests() -> None:
    leaks = {
        module: sorted(t for t in targets if t.split(".")[0] in {"lab", "tests", "benchmarks"})
        for module, targets in imports().items()
        if module.split(".")[0] in {"tools", "fleetlib", "maintenance"}
    }
    assert {module: found for module, found in leaks.items() if found} == {}


def test_the_shared_package_takes_only_the_release_contract_from_tools() -> None:
    from_tools = {t for m, ts in imports().items() if m.startswith("fleetlib") for t in ts}
    assert {t for t in from_tools if t.startswith("tools")} <= {"tools.host_apply"}


def test_host_apply_is_self_contained() -> None:
    """terraform puts it into the user data: it runs with Debian's python3 before any release."""
    assert imports()["tools.host_apply"] == set()


def test_no_modules_import_each_other_in_a_loop() -> None:
    graph = imports()
    loops: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                loops.append([*path[path.index(target) :], target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert loops == []


def test_the_hosts_wheel_folder_is_spelled_once_per_language() -> None:
    """tools/host_apply.py's HOST_WHEELS is the release's contract; the Makefile, the wiring (which
    the roles read; its argument_specs repeat the default, held equal by the roles' contract) and
    the role scenarios' mount each spell it once and agree with it."""
    from tools.host_apply import HOST_WHEELS

    spelled = sorted(
        p
        for p in project_files("*")
        if (REPO / p).is_file()
        and not p.endswith(".md")
        and HOST_WHEELS in (REPO / p).read_text(errors="replace")
    )
    assert spelled == [
        "Makefile",
        "molecule/shared/role.yml",
        "roles/fleet_wiring/defaults/main/fleet.yml",
        "roles/fleet_wiring/meta/argument_specs.yml",
        "tools/host_apply.py",
    ]
