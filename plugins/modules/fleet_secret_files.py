#!/usr/bin/python
"""Ansible module: a service's secret files, generated once on the host or set from a value,
their owner, group and mode kept right, their values handed back - in one call.

What a stat, a copy, a file and a slurp task per secret did, one module call for all of a
service's secrets (each call costs a Python start and an import of Ansible's module code on the
host, most of a no-op run's time). A secret is generated on the host, from the operating
system's random source, only when its file is missing; it never leaves the host except in this
module's result, which the calling task keeps out of the output (no_log)."""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import stat
import string
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fleet_secret_files
short_description: Secret files, generated once or set, owner and mode kept, values returned
description:
  - For each secret - when its file is missing, writes the given value or, with none given, a
    new random one of letters and digits; when a value is given and differs, writes it; an
    existing file with no value given is kept as it is. Corrects owner, group and mode.
  - Returns every value (the calling task must be no_log). In check mode a secret that would
    be generated reads as C(check-mode-placeholder).
options:
  secrets:
    description: The secrets - path, value (empty - generated once), length, owner, group, mode.
    type: list
    elements: dict
    required: true
author: llm-fleet
"""

RETURN = r"""
values:
  description: The value of each secret given none (generated or kept), by path. A given value
    is not returned - Ansible masks a no_log option's value wherever it appears in a result -
    the caller has it already.
  returned: always
  type: dict
changes:
  description: >-
    One line per difference, never a value - "<path>: generated", "<path>: set",
    "<path>: owner -> root:ollama", "<path>: mode 0644 -> 0640".
  returned: always
  type: list
  elements: str
"""

PLACEHOLDER = "check-mode-placeholder"
ALPHABET = string.ascii_letters + string.digits


def read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write(
    module: AnsibleModule, path: str, value: str, owner: tuple[int, int] | None, mode: int
) -> None:
    """The value into the path, atomically: the temporary file is 0600 from its first byte and
    gets its owner and mode before it takes the path's place."""
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        module.fail_json(msg=f"{path}: its folder {folder} does not exist")
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".fleet_secret_files.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(value)
    if owner is not None:
        os.chown(temp, *owner)
    os.chmod(temp, mode)
    os.replace(temp, path)


def ids(module: AnsibleModule, path: str, owner: str, group: str) -> tuple[int, int] | None:
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        if module.check_mode:  # the service's user is made earlier in the same run
            return None
        module.fail_json(msg=f"{path}: no user {owner} or group {group}")
    return None  # unreachable: fail_json exits


def keep(module: AnsibleModule, item: dict[str, Any], changes: list[str]) -> str:
    path, given = str(item["path"]), str(item.get("value") or "")
    mode = int(str(item["mode"]), 8)
    wanted = ids(module, path, str(item["owner"]), str(item["group"]))
    found = read(path)
    if found is None:
        value = given or ("".join(secrets.choice(ALPHABET) for _ in range(int(item["length"]))))
        changes.append(f"{path}: {'set' if given else 'generated'}")
        if not module.check_mode:
            write(module, path, value, wanted, mode)
        return given or PLACEHOLDER if module.check_mode else value
    if given and given != found:
        changes.append(f"{path}: set (it differed)")
        if not module.check_mode:
            write(module, path, given, wanted, mode)
            return given
    now = os.stat(path)
    if wanted is not None and (now.st_uid, now.st_gid) != wanted:
        changes.append(f"{path}: owner -> {item['owner']}:{item['group']}")
        if not module.check_mode:
            os.chown(path, *wanted)
    if stat.S_IMODE(now.st_mode) != mode:
        changes.append(f"{path}: mode {stat.S_IMODE(now.st_mode):04o} -> {mode:04o}")
        if not module.check_mode:
            os.chmod(path, mode)
    return given or found


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "secrets": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path", "required": True},
                    "value": {"type": "str", "default": "", "no_log": True},
                    "length": {"type": "int", "default": 48},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "raw", "default": "0640"},
                },
            }
        },
        supports_check_mode=True,
    )
    changes: list[str] = []
    values: dict[str, str] = {}
    for item in module.params["secrets"]:
        value = keep(module, item, changes)
        if not item["value"]:
            values[str(item["path"])] = value
    module.exit_json(changed=bool(changes), changes=changes, values=values)


if __name__ == "__main__":
    main()
