"""Ansible callback: what a run changed (or, in check mode, would change), per host and task,
written as JSON to the file named by LLM_FLEET_DRIFT_REPORT. Used by `python -m tools.drift`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ansible import context
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: drift_report
type: aggregate
short_description: Records changed tasks per host as JSON (drift detection)
description:
  - Writes every changed, failed or unreachable task result to the JSON file named by the
    LLM_FLEET_DRIFT_REPORT environment variable, with its diff when the run had --diff and the
    settings that differ (a fleet_config file's, secrets masked; a loop's changed items).
requirements:
  - enabled in callbacks_enabled
"""

MAX_DIFF_CHARS = 4000


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[str, dict[str, Any]] = {}
        self.check_mode = False

    def _host(self, name: str) -> dict[str, Any]:
        return self.hosts.setdefault(name, {"changed": [], "failed": [], "unreachable": False})

    def v2_playbook_on_play_start(self, play: Any) -> None:
        # --check on the command line, or check_mode: true on a play.
        self.check_mode = self.check_mode or bool(play.check_mode or context.CLIARGS.get("check"))

    def _diff_text(self, result: dict[str, Any]) -> str:
        """The unified diff the default callback would show for --diff (trimmed)."""
        items = [r for r in result.get("results", []) if isinstance(r, dict)]
        diffs = [d for d in [result.get("diff"), *(r.get("diff") for r in items)] if d]
        return "".join(str(self._get_diff(d)) for d in diffs)[:MAX_DIFF_CHARS]

    @staticmethod
    def _settings(result: dict[str, Any], hidden: bool) -> list[str]:
        """What differs, by name: the settings a fleet_config file names (secrets masked there),
        and the labels of a loop's changed items (none for a task whose output is hidden)."""
        items = [r for r in result.get("results", []) if isinstance(r, dict)]
        named = [str(s) for r in [result, *items] for s in r.get("settings", [])]
        if hidden:
            return named
        labels = [
            str(r.get("_ansible_item_label", r.get("item", "")))
            for r in items
            if r.get("changed") and not r.get("settings")
        ]
        return named + [label for label in labels if label]

    def _record(self, result: Any, kind: str) -> None:
        task = result._task
        role = task._role.get_name() if task._role else ""
        entry = {
            "task": task.get_name(),
            "role": role,
            "action": task.action,
            "diff": self._diff_text(result._result),
            "settings": self._settings(result._result, bool(task.no_log)),
        }
        if kind == "failed":
            entry["message"] = str(result._result.get("msg", ""))[:MAX_DIFF_CHARS]
        self._host(result._host.get_name())[kind].append(entry)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._host(result._host.get_name())
        if result._result.get("changed"):
            self._record(result, "changed")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        if not ignore_errors:
            self._record(result, "failed")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._host(result._host.get_name())["unreachable"] = True

    def v2_playbook_on_stats(self, stats: Any) -> None:
        path = os.environ.get("LLM_FLEET_DRIFT_REPORT")
        if not path:
            return
        report = {"check_mode": self.check_mode, "hosts": dict(sorted(self.hosts.items()))}
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
