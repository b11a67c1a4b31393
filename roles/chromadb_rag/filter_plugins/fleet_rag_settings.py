"""fleet-rag's own settings check, run on the controller before the role changes anything: the
settings module is read from the very wheel the hosts install, so the role and the service
share one set of validation rules."""

from __future__ import annotations

import sys
import types
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

SETTINGS_MODULE = "fleet_rag/settings.py"


def load_settings_module(wheel: str) -> types.ModuleType:
    """fleet_rag.settings from the wheel, without installing it (standard library only)."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(SETTINGS_MODULE)
    name = "_fleet_rag_settings_from_wheel"
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses look their module up while building the class
    try:
        exec(compile(source, f"{wheel}/{SETTINGS_MODULE}", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def fleet_rag_settings_problems(environment: Mapping[str, Any], wheel: str) -> str:
    """'' when fleet-rag accepts these FLEET_RAG_* variables, else its own message."""
    settings = load_settings_module(wheel).Settings
    try:
        settings.from_env({key: str(value) for key, value in environment.items()})
    except ValueError as problem:
        return str(problem)
    return ""


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"fleet_rag_settings_problems": fleet_rag_settings_problems}
