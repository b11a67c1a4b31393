"""containers.podman.podman with pipelining: a module goes to the container's python on the
stdin of one `podman exec --interactive`, instead of a temporary file written, made executable,
run and removed (four execs per task). The lab's hosts and the Molecule scenarios use it."""

from __future__ import annotations

import shlex
from typing import Any

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import (
    Connection as PodmanConnection,
)

DOCUMENTATION = """
    name: podman_pipelined
    short_description: Run tasks in a podman container, with pipelining
    description:
      - containers.podman.podman, with pipelining supported (the module on the stdin of
        C(podman exec --interactive)).
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


class Connection(PodmanConnection):  # type: ignore[misc]
    transport = "podman_pipelined"
    has_pipelining = True

    def exec_command(
        self, cmd: str, in_data: bytes | None = None, sudoable: bool = False
    ) -> tuple[int, bytes, bytes]:
        if in_data is None:
            result: tuple[int, bytes, bytes] = super().exec_command(cmd, in_data, sudoable)
            return result
        if not self._connected:
            self._connect()
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args: list[Any] = ["exec", "--interactive"]
        if self.user:
            args += ["--user", self.user]
        rc, out, err = self._podman(args, shlex.split(to_native(cmd)), in_data)
        return int(rc), out, err
