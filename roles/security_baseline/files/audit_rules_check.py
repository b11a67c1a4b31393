#!/usr/bin/env python3
"""Check an audit rules file (auditctl's syntax, the subset the fleet writes) without the kernel:
auditctl itself needs CAP_AUDIT_CONTROL even to parse, which a container never has. Each line:
a comment, a control option (-D, -b N, -f 0-2, -e 0-2, -r N, --backlog_wait_time N), a watch
(-w PATH -p PERMS -k KEY) or a syscall rule (-a LIST,ACTION [-F FIELD OP VALUE]... [-S SYSCALL]
[-k KEY]). Syscalls are looked up with ausyscall (the audit package's table) when it is there.

    audit_rules_check.py FILE     exit 0, or 1 with each bad line named (Ansible's validate)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

LISTS = {"task", "exit", "user", "exclude", "filesystem", "io_uring"}
ACTIONS = {"never", "always"}
FIELDS = {
    "a0", "a1", "a2", "a3", "arch", "auid", "devmajor", "devminor", "dir", "egid", "euid", "exe",
    "exit", "fsgid", "fstype", "fsuid", "gid", "inode", "key", "loginuid", "msgtype", "obj_gid",
    "obj_uid", "path", "perm", "pers", "pid", "ppid", "saddr_fam", "sessionid", "sgid", "subj_type",
    "success", "suid", "uid",
}  # fmt: skip
FIELD = re.compile(r"^([a-z0-9_]+)(!=|>=|<=|&=|=|>|<|&)(\S+)$")
KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,255}$")


def syscall_known(name: str, arch: str) -> bool:
    if name == "all" or shutil.which("ausyscall") is None:
        return True
    table = "x86_64" if arch == "b64" else "i386"
    proc = subprocess.run(["ausyscall", table, name], capture_output=True, text=True, check=False)
    return proc.returncode == 0


def check_watch(args: list[str]) -> str:
    options = dict(zip(args[0::2], args[1::2], strict=False))
    if len(args) % 2 or set(options) - {"-w", "-p", "-k"} or "-w" not in options:
        return "a watch is -w PATH [-p PERMS] [-k KEY]"
    if not options["-w"].startswith("/"):
        return f"watch path {options['-w']!r} is not absolute"
    if "-p" in options and not re.fullmatch(r"[rwxa]+", options["-p"]):
        return f"permissions {options['-p']!r}: only r w x a"
    if "-k" in options and not KEY.fullmatch(options["-k"]):
        return f"key {options['-k']!r}"
    return ""


def check_syscall_rule(args: list[str]) -> str:
    pairs = list(zip(args[0::2], args[1::2], strict=False))
    if len(args) % 2 or pairs[0][0] != "-a":
        return "a rule is -a LIST,ACTION followed by -F, -S and -k options with a value each"
    parts = set(pairs[0][1].split(","))
    if len(parts) != 2 or not parts & LISTS or not parts & ACTIONS:
        return f"-a {pairs[0][1]!r}: one of {sorted(LISTS)} and one of {sorted(ACTIONS)}"
    arch = "b64"
    for option, value in pairs[1:]:
        if option == "-F":
            match = FIELD.fullmatch(value)
            if match is None or match.group(1) not in FIELDS:
                return f"field {value!r}"
            if match.group(1) == "arch":
                arch = match.group(3)
                if arch not in ("b64", "b32"):
                    return f"arch {arch!r}: b64 or b32"
        elif option == "-S":
            for name in value.split(","):
                if not syscall_known(name, arch):
                    return f"no syscall {name!r} on {arch}"
        elif option == "-k":
            if not KEY.fullmatch(value):
                return f"key {value!r}"
        else:
            return f"option {option!r}"
    return ""


def check_line(line: str) -> str:
    args = line.split()
    if not args or args[0].startswith("#"):
        return ""
    if args == ["-D"]:
        return ""
    if args[0] in ("-b", "-f", "-e", "-r", "--backlog_wait_time") and len(args) == 2:
        limits = {"-f": "012", "-e": "012"}
        ok = args[1].isdigit() and (args[0] not in limits or args[1] in limits[args[0]])
        return "" if ok else f"{args[0]} {args[1]!r}"
    if args[0] == "-w":
        return check_watch(args)
    if args[0] == "-a":
        return check_syscall_rule(args)
    return f"unknown rule {args[0]!r}"


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        errors = [
            f"{path}:{number}: {problem}: {line.strip()}"
            for number, line in enumerate(handle, start=1)
            if (problem := check_line(line))
        ]
    print("\n".join(errors) or f"{path}: every rule is well formed")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
