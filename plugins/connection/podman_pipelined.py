"""containers.podman.podman with pipelining: a module goes to the container's python on the
stdin of one command, instead of a temporary file written, made executable, run and removed
(four execs per task). The lab's hosts and the Molecule scenarios use it.

As root it also skips the podman CLI on every task: the container's init PID (kept in a small
cache beside the lab state, checked against /proc on each use) lets commands enter the
container's namespaces with nsenter and files go through /proc/<pid>/root. Elsewhere it falls
back to `podman exec --interactive` and podman's own file transfer.

A container that is stopped or missing makes the host UNREACHABLE, as a dead host is over SSH
(not a failed task saying "container state improper")."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)

DOCUMENTATION = """
    name: podman_pipelined
    short_description: Run tasks in a podman container, with pipelining
    description:
      - containers.podman.podman, with pipelining supported; as root, commands enter the
        container's namespaces with nsenter and files go through /proc/<pid>/root.
    extends_documentation_fragment:
      - connection_pipelining
    options:
      remote_addr:
        description: The container to run in.
        default: inventory_hostname
        vars:
          - name: ansible_host
          - name: inventory_hostname
          - name: ansible_podman_host
      remote_user:
        description: The user to run as inside the container.
        ini:
          - section: defaults
            key: remote_user
        env:
          - name: ANSIBLE_REMOTE_USER
        vars:
          - name: ansible_user
      podman_extra_args:
        description: Extra arguments for the podman command line.
        default: ''
        vars:
          - name: ansible_podman_extra_args
        env:
          - name: ANSIBLE_PODMAN_EXTRA_ARGS
      podman_executable:
        description: The podman executable.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""

# The environment `podman exec` gives a root shell in the lab's Debian image.
CONTAINER_ENV = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "LANG=C.UTF-8",
    "container=podman",
]
PID_CACHE = Path(os.environ.get("XDG_RUNTIME_DIR") or "/run") / "llm-fleet-podman-pids.json"


def _read_cache() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(PID_CACHE.read_text())
    except (OSError, ValueError):
        return {}
    return data


def _still_running(entry: dict[str, Any]) -> bool:
    """The cached PID is still the container's init: its cgroup names the container's ID."""
    try:
        cgroup = Path(f"/proc/{int(entry['pid'])}/cgroup").read_text()
    except (OSError, KeyError, ValueError):
        return False
    return str(entry.get("id", "-")) in cgroup


class Connection(PodmanConnection):  # type: ignore[misc]
    transport = "podman_pipelined"
    has_pipelining = True
    _pid: int | None = None

    def _connect(self) -> Connection:
        self._pid = None
        if os.geteuid() == 0 and self.user in (None, "", "root", "0") and shutil.which("nsenter"):
            self._pid = self._container_pid()
        if self._pid is None:
            self._require_running()
            super()._connect()
        else:
            ConnectionBase._connect(self)
            self._connected = True
        return self

    def _require_running(self) -> None:
        """The host is unreachable unless its container exists and runs."""
        rc, out, err = self._podman(["inspect", "--format", "{{.State.Status}}"])
        if rc != 0:
            raise AnsibleConnectionFailure(
                f"podman container {self._container_id} does not exist: {to_native(err).strip()}"
            )
        status = to_native(out).strip()
        if status != "running":
            raise AnsibleConnectionFailure(
                f"podman container {self._container_id} is {status}, not running"
            )

    def _container_pid(self) -> int | None:
        name = str(self._container_id)
        cache = _read_cache()
        if name in cache and _still_running(cache[name]):
            return int(cache[name]["pid"])
        rc, out, _ = self._podman(["inspect", "--format", "{{.Id}} {{.State.Pid}}"])
        fields = to_native(out).split()
        if rc != 0 or len(fields) != 2 or not fields[1].isdigit() or fields[1] == "0":
            return None
        entry = {"id": fields[0], "pid": int(fields[1])}
        cache[name] = entry
        tmp = PID_CACHE.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        tmp.replace(PID_CACHE)  # atomic: parallel workers never read half a file
        return int(entry["pid"])

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = False
    ) -> tuple[int, bytes, bytes]:
        if not self._direct() and in_data is None:
            result: tuple[int, bytes, bytes] = super().exec_command(cmd, in_data, sudoable)
            return result
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = shlex.split(to_native(cmd))
        if self._pid is None:
            exec_args: list[Any] = ["exec", "--interactive"]
            rc, out, err = self._podman(exec_args, args, in_data)
            return int(rc), out, err
        command = ["nsenter", "--target", str(self._pid), "--mount", "--uts", "--ipc", "--net"]
        command += ["--pid", "--cgroup", "--root", "--wd=/", "--", "/usr/bin/env", "-i"]
        command += CONTAINER_ENV + args
        proc = subprocess.run(command, input=in_data, capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def _direct(self) -> bool:
        """Connect if needed; whether this connection enters the container without podman."""
        if not self._connected:
            self._connect()
        return self._pid is not None

    def _host_path(self, path: str) -> bytes:
        return os.fsencode(f"/proc/{self._pid}/root{path}")

    def _copy(self, source: bytes, destination: bytes, what: str) -> None:
        try:
            shutil.copyfile(source, destination)
        except OSError as error:
            raise AnsibleError(f"{what} in {self._container_id}: {error}") from error

    def put_file(self, in_path: str, out_path: str) -> None:
        if not self._direct():
            super().put_file(in_path, out_path)
            return
        ConnectionBase.put_file(self, in_path, out_path)
        self._copy(to_bytes(in_path), self._host_path(out_path), f"copying {in_path} to {out_path}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        if not self._direct():
            super().fetch_file(in_path, out_path)
            return
        ConnectionBase.fetch_file(self, in_path, out_path)
        self._copy(self._host_path(in_path), to_bytes(out_path), f"fetching {in_path}")
