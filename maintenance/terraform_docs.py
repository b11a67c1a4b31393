"""The terraform root module's inputs and outputs as Markdown tables, written into
docs/deploy.md between its markers (the tables can never drift from variables.tf and outputs.tf:
tests/test_docs.py holds them equal).

python -m maintenance.terraform_docs          # rewrite the tables
python -m maintenance.terraform_docs --check  # exit 1 when they are out of date
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from fleetlib.hcl import TERRAFORM, blocks
from fleetlib.paths import REPO
from maintenance.generated import cli

DOC = REPO / "docs" / "deploy.md"
BEGIN = "<!-- BEGIN terraform docs: `python -m maintenance.terraform_docs` writes this part -->"
END = "<!-- END terraform docs -->"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def shown(value: Any) -> str:
    """A type or default as HCL would write it."""
    if isinstance(value, str):
        match = re.fullmatch(r"\$\{(.*)\}", value, re.DOTALL)
        return match.group(1) if match else json.dumps(value)
    return json.dumps(value)


def render() -> str:
    variables = blocks(TERRAFORM / "variables.tf", "variable")
    outputs = blocks(TERRAFORM / "outputs.tf", "output")
    lines = ["### Inputs (`terraform/variables.tf`)", ""]
    lines += ["| Name | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, body in variables.items():
        default = "required" if "default" not in body else f"`{cell(shown(body['default']))}`"
        kind = cell(shown(body.get("type", "any")).strip('"'))
        lines.append(f"| `{name}` | `{kind}` | {default} | {cell(body.get('description', ''))} |")
    lines += ["", "### Outputs (`terraform/outputs.tf`)", ""]
    lines += ["| Name | Description |", "| --- | --- |"]
    for name, body in outputs.items():
        lines.append(f"| `{name}` | {cell(body.get('description', ''))} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(cli(DOC, BEGIN, END, render, sys.argv[1:]))
