#!/usr/bin/python
"""Ansible module: several text files with their owner, group and mode, in one call.

The module behind the action plugin fleet_config (its `files:` form: a service's environment file,
unit and sandbox drop-in): what a template task per file would do, one module call instead of
two per file (each call costs a Python start and an import of Ansible's module code on the host,
most of a no-op run's time). The contents are given already rendered; the before-contents of the
files that differ come back for the action plugin, which turns them into setting names with
secrets masked, and drops them."""

from __future__ import annotations

import base64
import os
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fleet_files
short_description: Several text files, their owner, group and mode, in one call
description:
  - Writes each file whose content differs (atomically, in its own folder) and corrects its
    owner, group and mode. Supports check mode.
  - Called by the action plugin fleet_config (C(files) form); not meant for tasks directly.
options:
  files:
    description: The files - dest, content, owner, group, mode, validate (a command run on the
      new content, %s its file, before it replaces the old).
    type: list
    elements: dict
    required: true
author: llm-fleet
"""

RETURN = r"""
files:
  description: One entry per file given - dest, changed, content_changed, and before_b64 (the
    old content in base64, only where the content differs; the action plugin removes it).
  returned: always
  type: list
  elements: dict
"""


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(module: AnsibleModule, dest: str, content: str, validate: str | None) -> None:
    folder = os.path.dirname(dest) or "."
    if not os.path.isdir(folder):
        module.fail_json(msg=f"{dest}: its folder {folder} does not exist")
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".fleet_files.")
    with os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape") as out:
        out.write(content)
    if validate:  # as ansible.builtin.copy's validate: the new content, before it replaces the file
        rc, out, err = module.run_command(validate % temp if "%s" in validate else validate)
        if rc != 0:
            os.unlink(temp)
            why = (err or out).strip()
            module.fail_json(msg=f"{dest}: refused by {validate.split()[0]}: {why}")
    module.atomic_move(temp, dest, unsafe_writes=False)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "dest": {"type": "path", "required": True},
                    # The contents may hold secrets: never in the module's invocation or log.
                    "content": {"type": "str", "required": True, "no_log": True},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "raw", "default": "0644"},
                    # A command run on the new content (%s: its file) before it is moved in.
                    "validate": {"type": "str"},
                },
            }
        },
        supports_check_mode=True,
    )
    results: list[dict[str, Any]] = []
    for item in module.params["files"]:
        dest = item["dest"]
        before = read(dest)
        content_changed = before != item["content"]
        if content_changed and not module.check_mode:
            write(module, dest, item["content"], item["validate"])
        attributes = {
            "path": dest, "mode": str(item["mode"]), "owner": item["owner"],
            "group": item["group"], "seuser": None, "serole": None, "setype": None,
            "selevel": None, "secontext": None, "attributes": None,
        }  # fmt: skip
        # A file that check mode would create has no attributes to compare yet.
        attributes_changed = (
            module.set_fs_attributes_if_different(attributes, False)
            if before is not None or not module.check_mode
            else True
        )
        entry: dict[str, Any] = {
            "dest": dest,
            "changed": content_changed or attributes_changed,
            "content_changed": content_changed,
        }
        if content_changed:
            # Encoded: Ansible masks a no_log option's value (the new content) wherever it
            # appears in a result, and an old content often holds all of the new one.
            entry["before_b64"] = base64.b64encode(
                (before or "").encode("utf-8", "surrogateescape")
            ).decode("ascii")
        results.append(entry)
    module.exit_json(changed=any(r["changed"] for r in results), files=results)


if __name__ == "__main__":
    main()
