#!/usr/bin/python
"""Ansible module: a service's system user and group, its folders and files, in one call.

What ansible.builtin.group, user and a loop of ansible.builtin.file would do, one task instead of
one per folder (each module call costs a Python start and an import of Ansible's module code on
the host: most of a no-op run's time)."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fleet_skeleton
short_description: A service's system user and group, folders and files, in one call
description:
  - Creates the system group and the system user of the same name (no home created, a shell
    that refuses logins), corrects the user's home, shell and primary group, creates folders
    and empty files that are missing and corrects their owner, group and mode.
  - Supports check mode and diff; C(changes) names each difference.
options:
  user:
    description: The system user, and its group of the same name.
    type: str
    required: true
  home:
    description: The user's home (not created).
    type: path
    default: /nonexistent
  shell:
    description: The user's shell.
    type: path
    default: /usr/sbin/nologin
  folders:
    description: Folders - path, owner (default the user), group (default the owner), mode.
    type: list
    elements: dict
    default: []
  files:
    description: Files made empty when missing, their content and times otherwise kept - path,
      owner, group, mode as for folders.
    type: list
    elements: dict
    default: []
author: llm-fleet
"""

RETURN = r"""
changes:
  description: One line for each difference found (and, unless in check mode, corrected).
  returned: always
  type: list
  elements: str
  sample: ["user ollama: created", "/var/lib/ollama: mode 0700 -> 0750"]
"""


class Skeleton:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.check = module.check_mode
        self.changes: list[str] = []

    def run(self, argv: list[str]) -> None:
        if not self.check:
            self.module.run_command(argv, check_rc=True)

    def account(self, user: str, home: str, shell: str) -> None:
        try:
            grp.getgrnam(user)
        except KeyError:
            self.changes.append(f"group {user}: created")
            self.run(["groupadd", "--system", user])
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            self.changes.append(f"user {user}: created")
            self.run(["useradd", "--system", "--gid", user, "--home-dir", home,
                      "--no-create-home", "--shell", shell, user])  # fmt: skip
            return
        wanted_gid = self.gid(user)
        fixes: list[str] = []
        if entry.pw_dir != home:
            self.changes.append(f"user {user}: home {entry.pw_dir} -> {home}")
            fixes += ["--home", home]
        if entry.pw_shell != shell:
            self.changes.append(f"user {user}: shell {entry.pw_shell} -> {shell}")
            fixes += ["--shell", shell]
        if wanted_gid is not None and entry.pw_gid != wanted_gid:
            self.changes.append(f"user {user}: primary group -> {user}")
            fixes += ["--gid", user]
        if fixes:
            self.run(["usermod", *fixes, user])

    @staticmethod
    def uid(name: str) -> int | None:
        try:
            return pwd.getpwnam(name).pw_uid
        except KeyError:
            return None

    @staticmethod
    def gid(name: str) -> int | None:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None

    def path(self, item: dict[str, Any], user: str, folder: bool) -> None:
        path = str(item["path"])
        owner = str(item.get("owner") or user)
        group = str(item.get("group") or owner)
        mode = int(str(item.get("mode") or ("0750" if folder else "0640")), 8)
        kind = "folder" if folder else "file"
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            self.changes.append(f"{path}: {kind} created")
            if self.check:
                return
            if folder:
                os.makedirs(path, mode=0o700)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            found = os.lstat(path)
        if folder != stat.S_ISDIR(found.st_mode):
            self.module.fail_json(msg=f"{path} exists and is not a {kind}")
        uid, gid = self.uid(owner), self.gid(group)
        if uid is None or gid is None:
            if self.check:  # the user is made by this same call in a real run
                self.changes.append(f"{path}: owner -> {owner}:{group}")
                return
            self.module.fail_json(msg=f"{path}: no user {owner} or group {group}")
            return
        if (found.st_uid, found.st_gid) != (uid, gid):
            self.changes.append(f"{path}: owner -> {owner}:{group}")
            if not self.check:
                os.lchown(path, uid, gid)
        if stat.S_IMODE(found.st_mode) != mode:
            self.changes.append(f"{path}: mode {stat.S_IMODE(found.st_mode):04o} -> {mode:04o}")
            if not self.check:
                os.chmod(path, mode)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "user": {"type": "str", "required": True},
            "home": {"type": "path", "default": "/nonexistent"},
            "shell": {"type": "path", "default": "/usr/sbin/nologin"},
            "folders": {"type": "list", "elements": "dict", "default": []},
            "files": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    skeleton = Skeleton(module)
    skeleton.account(params["user"], params["home"], params["shell"])
    for item in params["folders"]:
        skeleton.path(item, params["user"], folder=True)
    for item in params["files"]:
        skeleton.path(item, params["user"], folder=False)
    changes = skeleton.changes
    module.exit_json(
        changed=bool(changes),
        changes=changes,
        diff={"before": "", "after": "".join(f"{c}\n" for c in changes)},
    )


if __name__ == "__main__":
    main()
