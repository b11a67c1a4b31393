"""Action plugin fleet_config: what ansible.builtin.template (or, given content, copy) does for a
configuration file, whose diff and result name each setting that differs, with the values
of secret settings replaced by a marker. A drift report then says "ENABLE_SIGNUP: False -> True"
and "DATABASE_URL: changed (secret)" instead of an empty, hidden diff - checking (a drift
report), from what the release declares to what the host has; applying, from the old value to
the new - and no secret value reaches the output, the report or the log.

Which settings are secret is the wiring's fleet_secret_setting_patterns (regular expressions
matched against a setting's name, case-insensitive), and any setting whose value carries a
password in a URL (scheme://user:password@host).

    - name: Write the agent configuration
      fleet_config:
        src: agent.json.j2           # or content: "..."
        dest: /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json
        settings_format: json        # env (NAME=value), keyvalue (name = value), json, yaml, lines
        owner: root                  # owner, group, mode: root, root, 0644 unless given
        validate: /usr/bin/check %s  # optional: run on the new content before it is moved in

The file takes one module call (plugins/modules/fleet_files.py, where ansible.builtin.template or
copy take two: a stat, then a file); any other option is refused by name.

The `files` form writes several files in one module call: a service's environment, unit and
sandbox drop-in cost one remote Python start instead of six, most of a no-op run's time. Each
entry takes the options above; each setting line names its file ("<dest>: NAME: old -> new").

    - name: Write the environment, unit and sandbox of open-webui.service
      fleet_config:
        files:
          - {src: service.env.j2, dest: /etc/open-webui/open-webui.env, settings_format: env,
             owner: root, group: open-webui, mode: "0640"}
          - {src: service.unit.j2, dest: /etc/systemd/system/open-webui.service}
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable
from typing import Any

import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

try:  # the template action's own variables (ansible_managed and its kin)
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
except ImportError:  # pragma: no cover - an ansible-core without data tagging
    generate_ansible_template_vars = None

FORMATS = ("env", "keyvalue", "json", "yaml", "lines")
FILE_KEYS = frozenset(
    {"src", "content", "dest", "settings_format", "owner", "group", "mode", "validate"}
)
SECRET = "<secret>"
CHANGED_SECRET = "<secret, changed>"
PATTERNS_VAR = "fleet_secret_setting_patterns"
NOTHING_NAMED = "no setting differs (comments, order or spacing only)"
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)([^/\s@]+)(@)")


def parse(text: str, form: str) -> dict[str, str]:
    """The settings a file holds, by name, in its order (a later value of a name wins)."""
    if form in ("env", "keyvalue"):
        settings: dict[str, str] = {}
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", ";")) or "=" not in stripped:
                continue
            name, value = stripped.split("=", 1)
            settings[name.strip()] = value.strip()
        return settings
    if form == "lines":  # each line a setting of its own (audit rules, apt configuration)
        return {line.strip(): "" for line in text.splitlines() if line.strip()}
    try:
        data = json.loads(text) if form == "json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return {"(unparsed)": text}
    return dict(flatten(data, ""))


def flatten(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{path}[{index}]")
    else:
        yield path, json.dumps(value)


def is_secret(name: str, values: Iterable[str | None], patterns: Iterable[str]) -> bool:
    leaf = re.split(r"[.\[]", name)[-1] if name else name
    named = any(re.search(p, n, re.IGNORECASE) for p in patterns for n in {name, leaf})
    return named or any(v is not None and _URL_PASSWORD.search(v) for v in values)


def mask_line(line: str, patterns: Iterable[str]) -> str:
    """A line of a line file with what looks secret in it masked: a URL's password, and the
    value of a "name=value", "name: value" or 'name "value"' whose name is secret."""
    line = _URL_PASSWORD.sub(rf"\1{SECRET}\3", line)
    for pattern in patterns:
        assignment = rf"(?i)([\w.:-]*(?:{pattern})[\w.:-]*(?:\s*[=:]\s*\"?|\s+\"))[^\s\";]+"
        line = re.sub(assignment, rf"\1{SECRET}", line)
    return line


def changes(
    before: dict[str, str], after: dict[str, str], patterns: Iterable[str], form: str
) -> list[str]:
    """One line per setting that differs: "NAME: old -> new", "NAME: changed (secret)",
    "NAME: added (= value)", "NAME: removed (was value)"; a line file's lines are added or
    removed whole."""
    patterns = list(patterns)
    found: list[str] = []
    for name in [*before, *(n for n in after if n not in before)]:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if form == "lines":
            found.append(f"{'added' if old is None else 'removed'}: {mask_line(name, patterns)}")
        elif is_secret(name, [old, new], patterns):
            what = "added" if old is None else "removed" if new is None else "changed"
            found.append(f"{name}: {what} (secret)")
        elif old is None:
            found.append(f"{name}: added (= {new})")
        elif new is None:
            found.append(f"{name}: removed (was {old})")
        else:
            found.append(f"{name}: {old} -> {new}")
    return found


def masked(
    settings: dict[str, str], other: dict[str, str], patterns: Iterable[str], form: str
) -> str:
    """The settings as text a diff can show: one "NAME=value" line each, in the file's order,
    a secret's value replaced by a marker that says whether it differs from the other side."""
    patterns = list(patterns)
    lines = []
    for name, value in settings.items():
        if form == "lines":
            lines.append(mask_line(name, patterns))
        elif is_secret(name, [value, other.get(name)], patterns):
            lines.append(f"{name}={SECRET if other.get(name) in (value, None) else CHANGED_SECRET}")
        else:
            lines.append(f"{name}={value}")
    return "".join(f"{line}\n" for line in lines)


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = True
    _VALID_ARGS: frozenset[str] = frozenset()  # checked by _run_files (FILE_KEYS)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        args = dict(self._task.args)
        form = args.pop("settings_format", "env")
        if form not in FORMATS:
            raise AnsibleActionFail(f"settings_format {form!r}: one of {', '.join(FORMATS)}")
        if PATTERNS_VAR not in task_vars:
            raise AnsibleActionFail(f"{PATTERNS_VAR} is not set (the wiring, role fleet_wiring)")
        patterns = [str(p) for p in self._templar.template(task_vars[PATTERNS_VAR])]
        if "files" in args:
            return self._run_files(args.pop("files"), args, task_vars, patterns, named=True)
        # One file: the same single module call, its settings unprefixed.
        return self._run_files([{**args, "settings_format": form}], {}, task_vars, patterns)

    def _render(self, entry: dict[str, Any], task_vars: dict[str, Any]) -> str:
        """An entry's text: its content, or its template rendered as the template action does
        (the role's templates folder, trim_blocks, ansible_managed)."""
        if "content" in entry:
            return str(entry["content"])
        source = self._find_needle("templates", str(entry["src"]))
        variables = dict(task_vars)
        if generate_ansible_template_vars is not None:
            variables.update(
                generate_ansible_template_vars(
                    path=str(entry["src"]),
                    fullpath=source,
                    dest_path=str(entry["dest"]),
                    include_ansible_managed="ansible_managed" not in variables,
                )
            )
        searchpath = [os.path.dirname(source), *task_vars.get("ansible_search_path", [])]
        templar = self._templar.copy_with_new_env(
            searchpath=searchpath, available_variables=variables
        )
        text = templar.template(
            trust_as_template(self._loader.get_text_file_contents(source)),
            escape_backslashes=False,
            overrides={"trim_blocks": True, "lstrip_blocks": False},
        )
        return "" if text is None else str(text)

    def _run_files(
        self,
        entries: Any,
        args: dict[str, Any],
        task_vars: dict[str, Any],
        patterns: list[str],
        named: bool = False,
    ) -> dict[str, Any]:
        """Write the entries with one fleet_files call; each setting line names its file when
        named (the files form)."""
        if args:
            raise AnsibleActionFail(f"files: no other option beside it (got {', '.join(args)})")
        if not isinstance(entries, list) or not entries:
            raise AnsibleActionFail("files: a non-empty list of {src or content, dest, ...}")
        forms: list[str] = []
        module_files: list[dict[str, Any]] = []
        for entry in entries:
            if not isinstance(entry, dict) or "dest" not in entry:
                raise AnsibleActionFail(f"files: each entry needs a dest (got {entry!r})")
            unknown = set(entry) - FILE_KEYS
            if unknown or ("src" in entry) == ("content" in entry):
                raise AnsibleActionFail(
                    f"files: {entry['dest']}: src or content, and only "
                    f"{', '.join(sorted(FILE_KEYS))} (got {', '.join(sorted(entry))})"
                )
            form = str(entry.get("settings_format", "lines"))
            if form not in FORMATS:
                raise AnsibleActionFail(
                    f"{entry['dest']}: settings_format {form!r}: one of {', '.join(FORMATS)}"
                )
            forms.append(form)
            module_files.append(
                {
                    "dest": str(entry["dest"]),
                    "content": self._render(entry, task_vars),
                    "owner": str(entry.get("owner", "root")),
                    "group": str(entry.get("group", "root")),
                    "mode": str(entry.get("mode", "0644")),
                    "validate": entry.get("validate"),
                }
            )
        result: dict[str, Any] = self._execute_module(
            module_name="fleet_files", module_args={"files": module_files}, task_vars=task_vars
        )
        result.pop("invocation", None)
        if result.get("failed"):
            return result
        settings: list[str] = []
        diffs: list[dict[str, str]] = []
        for sent, form, found in zip(module_files, forms, result["files"], strict=True):
            encoded = found.pop("before_b64", None)
            if encoded is None:
                continue
            text_before = base64.b64decode(encoded).decode("utf-8", "surrogateescape")
            before, after = parse(text_before, form), parse(sent["content"], form)
            start, end = (after, before) if self._play_context.check_mode else (before, after)
            lines = changes(start, end, patterns, form) or [NOTHING_NAMED]
            settings += [f"{sent['dest']}: {line}" if named else line for line in lines]
            diffs.append(
                {
                    "before_header": sent["dest"],
                    "after_header": sent["dest"],
                    "before": masked(before, after, patterns, form),
                    "after": masked(after, before, patterns, form),
                }
            )
        result["settings"] = settings
        if self._task.diff and diffs:
            result["diff"] = diffs
        return result
