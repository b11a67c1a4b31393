"""docs/troubleshooting.md holds the entries an on-call engineer needs, each with the command
that confirms the symptom, and what it names exists: the project's tools, playbooks, terraform
outputs and variables, the roles' variables. (The symptoms the lab can show are produced by the
tests that name them in the closing notes: a stopped host, a restarted database, a drift that
cannot be corrected, a host failing its health gate, Ollama on the CPU.)"""

from __future__ import annotations

import re

import pytest
import yaml

from fleetlib.paths import REPO
from tests.hcl import load_outputs

DOC = (REPO / "docs" / "troubleshooting.md").read_text()
SECTIONS = dict(
    (match.group(1), match.group(2))
    for match in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", DOC, flags=re.MULTILINE | re.DOTALL)
)
# Each symptom the operations issue names, and the start of the section that answers it.
ENTRIES = {
    "a host stuck in Pending:Wait or abandoned": "A new host never comes into service",
    "SSM offline": "Session Manager shows a host offline",
    "nvidia-smi failing or a reboot pending": "nvidia-smi fails, or a reboot is pending",
    "Ollama on the CPU": "Ollama answers from the CPU",
    "502/504 at the load balancer": "Users see errors (502, 504)",
    "login loops between hosts": "Users are signed out, or loop back to the sign-in page",
    "PostgreSQL or Redis unreachable": "PostgreSQL or Redis unreachable",
    "Chroma down and the re-index": "Chroma down, and the re-index",
    "the data volume full": "The data volume is full",
    "a drift report that will not go clean": "A drift report that will not go clean",
    "a rolling update that stopped half way": "A rolling update (or a deploy's rollout) stopped",
    "a host booted an image that does not match": "A host booted an image that does not match",
    # The identity issue's three.
    "sign-in loops at the provider": "Sign-in loops at the provider",
    "a person sees no models": "A person sees no models",
    "a person who left still signs in": "A person who left still signs in",
}


def section(start: str) -> str:
    (body,) = [body for title, body in SECTIONS.items() if title.startswith(start)]
    return body


@pytest.mark.parametrize("entry", ENTRIES, ids=list(ENTRIES))
def test_each_entry_says_how_to_confirm_it_and_what_to_do(entry: str) -> None:
    body = section(ENTRIES[entry])
    confirm = body[body.index("Confirm") :] if "Confirm" in body else ""
    assert re.search(
        r"`[^`]*\b(aws|curl|ls|nvidia-smi|python|df|systemctl|journalctl)\b", confirm
    ), f"{entry}: no command that confirms it"
    assert len(body.split("\n- ")) >= 2 or re.search(r"^\d\. ", body, re.MULTILINE), entry


def test_the_tools_playbooks_and_settings_it_names_exist() -> None:
    for module in set(re.findall(r"python -m (tools\.[a-z_]+)", DOC)):
        assert (REPO / (module.replace(".", "/") + ".py")).is_file(), module
    for playbook in set(re.findall(r"(playbooks/[a-z_]+\.yml)", DOC)):
        assert (REPO / playbook).is_file(), playbook
    outputs = load_outputs()
    for output in set(re.findall(r"terraform output `?([a-z_]+)`?", DOC)):
        assert output in outputs, output
    variables = (REPO / "terraform" / "variables.tf").read_text()
    named = set(re.findall(r"terraform(?:'s)?\s+`([a-z_]+)`", DOC))
    assert named, "the guide names no terraform variable"
    for name in named:
        assert f'variable "{name}"' in variables, f"terraform has no variable {name}"
    defaults: dict[str, object] = {}
    for path in REPO.glob("roles/*/defaults/**/*.yml"):
        defaults.update(yaml.safe_load(path.read_text()) or {})
    for name in set(re.findall(r"`((?:ollama|open_webui|fleet|nvidia_cuda|chromadb_rag|"
                               r"cloudwatch_agent|fleet_common)_[a-z_]+)`", DOC)):  # fmt: skip
        known = name in defaults or f'variable "{name}"' in variables
        assert known, f"docs/troubleshooting.md names {name}: no role or terraform variable"
