"""Filters over the installed packages that fleet_wiring reads once per run (fleet_packages):
which of a role's packages an apt task still has to install.

    when: ['procps'] | fleet_missing_packages(fleet_packages) | length > 0
    when: fleet_packages | fleet_package_differs('amazon-ssm-agent', ssm_agent_version)

Without the fact (a play that does not start with fleet_wiring), every package reads missing:
the apt task runs, as it would without these filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _installed(packages: Any) -> Mapping[str, str]:
    return packages if isinstance(packages, Mapping) else {}


def fleet_missing_packages(names: Iterable[str] | str, packages: Any) -> list[str]:
    """The names (a list or one name) that are not installed."""
    wanted = [names] if isinstance(names, str) else list(names)
    installed = _installed(packages)
    return [name for name in wanted if str(name) not in installed]


def fleet_package_differs(packages: Any, name: str, version: str) -> bool:
    """Whether a package is missing or at a version other than the one given (compared with and
    without its Debian revision: the given 1.2.3 matches the installed 1.2.3 and 1.2.3-1)."""
    found = _installed(packages).get(name)
    if found is None:
        return True
    return str(version) not in (found, found.rsplit("-", 1)[0])


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "fleet_missing_packages": fleet_missing_packages,
            "fleet_package_differs": fleet_package_differs,
        }
