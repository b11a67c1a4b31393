"""Write each role's README.md from its meta/argument_specs.yml (the one source of truth).

python -m maintenance.role_readme          # rewrite every roles/*/README.md
python -m maintenance.role_readme --check  # exit 1 when a README is out of date
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from fleetlib.paths import REPO


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    text = " ".join(text.split())  # a folded multi-line default stays in its table cell
    return "`" + text.replace("|", "\\|") + "`" if text != "" else '`""`'


def render(role: Path) -> str:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    lines = [f"# Role `{role.name}`", ""]
    lines += [
        "<!-- Written by `python -m maintenance.role_readme` from meta/argument_specs.yml. -->",
        "",
    ]
    for entry, spec in specs.items():
        heading = "" if entry == "main" else f" (entry point `{entry}`)"
        lines += [f"{spec['short_description']}{heading}.", ""]
        lines += [str(paragraph) for paragraph in spec.get("description", [])]
        lines += ["", "| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
        for name, option in spec.get("options", {}).items():
            kind = option.get("type", "str")
            if kind == "list" and "elements" in option:
                kind = f"list of {option['elements']}"
            if "choices" in option:
                kind += " (" + ", ".join(str(c) for c in option["choices"]) + ")"
            required = " **required**" if option.get("required") else ""
            description = " ".join(
                option["description"]
                if isinstance(option["description"], list)
                else [option["description"]]
            )
            lines.append(
                f"| `{name}` | {kind}{required} | {cell(option.get('default'))} | {description} |"
            )
        lines.append("")
    example = role / "molecule" / "default" / "converge.yml"
    if example.exists():
        lines += ["## Example", "", "From the Molecule scenario (`molecule/default/converge.yml`):"]
        lines += ["", "```yaml", example.read_text().rstrip(), "```", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for role in sorted((REPO / "roles").iterdir()):
        if not (role / "meta" / "argument_specs.yml").exists():
            continue
        text = render(role)
        readme = role / "README.md"
        if args.check:
            if not readme.exists() or readme.read_text() != text:
                stale.append(str(readme.relative_to(REPO)))
        else:
            readme.write_text(text)
    if stale:
        print("out of date (run `python -m maintenance.role_readme`):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
