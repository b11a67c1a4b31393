#!/usr/bin/python
"""Ansible module: the Debian packages installed on the host, by name, read once.

One dpkg-query call (about 0.1 s) that lets every role skip its apt task when what it asks for is
there already: each apt call costs a no-op run most of a second (Python start, apt's cache), and
a run makes about ten. fleet_wiring hands them to the roles as the fact fleet_packages, which the
filters of plugins/filter/fleet_packages.py compare with; an apt task still runs whenever a
package is missing or at another version, so check mode stays honest. Read-only."""

from __future__ import annotations

import shutil

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: fleet_installed_packages
short_description: The installed Debian packages, by name (read-only)
description:
  - Lists the packages dpkg reports installed ("ii"), with their versions. On a host without
    dpkg-query, returns none, so that every apt task runs.
options: {}
author: llm-fleet
"""

RETURN = r"""
packages:
  description: Each installed package's version, by name.
  returned: always
  type: dict
  sample: {"procps": "2:4.0.2-3", "amazon-ssm-agent": "3.3.1142.0"}
"""


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    query = shutil.which("dpkg-query")
    packages: dict[str, str] = {}
    if query is not None:
        _, out, _ = module.run_command(
            [query, "-W", "-f", "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"],
            check_rc=True,
        )
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) == 3 and fields[2].strip() == "ii":
                packages[fields[0]] = fields[1]
    module.exit_json(changed=False, packages=packages)


if __name__ == "__main__":
    main()
