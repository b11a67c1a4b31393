"""The project's modules and filters that a no-op run rests on, on this machine (localhost,
connection local): fleet_skeleton, fleet_secret_files and fleet_config's files form (module
fleet_files) each do their job in one call, change nothing on a second run, report what a check
run would change without changing it, and refuse bad input by name; the package filters and the
corpus filter tell what is missing."""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
from pathlib import Path
from typing import Any

import pytest

from fleetlib.paths import venv_bin
from plugins.filter.fleet_packages import fleet_missing_packages, fleet_package_differs
from roles.chromadb_rag.filter_plugins.fleet_rag_documents import fleet_rag_documents_to_ship
from tests.helpers import run_tool

USER = "fleet-modtest"


def play(tmp_path: Path, tasks: str, *flags: str) -> dict[str, Any]:
    """Run the tasks on localhost; the result the task registered as r1, and the output."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  vars:\n    fleet_secret_setting_patterns: [token, password]\n"
        f"  tasks:\n{tasks}"
        "    - name: Keep the results\n"
        "      ansible.builtin.copy:\n"
        "        content: \"{{ {'r1': r1 | default({})} | to_json }}\"\n"
        f"        dest: {tmp_path}/results.json\n"
        "        mode: '0600'\n"
        "      check_mode: false\n"
    )
    proc = run_tool(
        venv_bin("ansible-playbook"), "-i", "localhost,", playbook, *flags,
        "-e", json.dumps({"ansible_python_interpreter": str(venv_bin("python"))}),
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results: dict[str, Any] = json.loads((tmp_path / "results.json").read_text())
    results["output"] = proc.stdout
    return results


@pytest.fixture
def clean_user() -> Any:
    yield
    os.system(f"userdel {USER} >/dev/null 2>&1; groupdel {USER} >/dev/null 2>&1")


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def test_the_skeleton_makes_user_folders_and_files_once(tmp_path: Path, clean_user: None) -> None:
    tasks = (
        "    - name: Skeleton\n"
        "      fleet_skeleton:\n"
        f"        user: {USER}\n"
        f"        folders: [{{path: {tmp_path}/data}},\n"
        f"                  {{path: {tmp_path}/etc, owner: root, mode: '0755'}}]\n"
        f"        files: [{{path: {tmp_path}/data/out.log, owner: root, group: {USER}}}]\n"
        "      register: r1\n"
    )
    checked = play(tmp_path, tasks, "--check")
    assert checked["r1"]["changed"] and not (tmp_path / "data").exists()
    assert f"user {USER}: created" in checked["r1"]["changes"]
    first = play(tmp_path, tasks)
    assert first["r1"]["changed"]
    entry = pwd.getpwnam(USER)
    assert entry.pw_shell == "/usr/sbin/nologin" and entry.pw_dir == "/nonexistent"
    assert (tmp_path / "data").stat().st_uid == entry.pw_uid and mode(tmp_path / "data") == "0750"
    assert mode(tmp_path / "etc") == "0755"
    log = tmp_path / "data" / "out.log"
    assert log.stat().st_gid == grp.getgrnam(USER).gr_gid and mode(log) == "0640"
    os.chmod(tmp_path / "etc", 0o777)
    again = play(tmp_path, tasks, "--check")
    assert again["r1"]["changes"] == [f"{tmp_path}/etc: mode 0777 -> 0755"]
    play(tmp_path, tasks)
    assert not play(tmp_path, tasks)["r1"]["changed"]


def test_a_folder_where_a_file_is_refused_by_name(tmp_path: Path, clean_user: None) -> None:
    (tmp_path / "taken").write_text("")
    tasks = (
        "    - name: Skeleton\n"
        f"      fleet_skeleton: {{user: {USER}, folders: [{{path: {tmp_path}/taken}}]}}\n"
        "      register: r1\n      ignore_errors: true\n"
    )
    result = play(tmp_path, tasks)["r1"]
    assert result["failed"] and result["msg"] == f"{tmp_path}/taken exists and is not a folder"


def test_secrets_are_generated_once_kept_and_never_printed(tmp_path: Path) -> None:
    generated, given = tmp_path / "generated", tmp_path / "given"
    tasks = (
        "    - name: Secrets\n"
        "      fleet_secret_files:\n"
        "        secrets:\n"
        f"          - {{path: {generated}, length: 32}}\n"
        f"          - {{path: {given}, value: from-the-vault-0123}}\n"
        "      register: r1\n      no_log: true\n"
    )
    checked = play(tmp_path, tasks, "--check")
    assert not generated.exists()
    assert checked["r1"]["values"] == {str(generated): "check-mode-placeholder"}
    first = play(tmp_path, tasks)
    value = generated.read_text()
    assert len(value) == 32 and value.isalnum() and first["r1"]["values"][str(generated)] == value
    assert given.read_text() == "from-the-vault-0123" and mode(given) == "0640"
    assert value not in first["output"] and "from-the-vault-0123" not in first["output"]
    os.chmod(generated, 0o644)
    given.write_text("changed-by-hand")
    second = play(tmp_path, tasks)
    assert generated.read_text() == value and mode(generated) == "0640"
    assert given.read_text() == "from-the-vault-0123"
    assert sorted(second["r1"]["changes"]) == [
        f"{generated}: mode 0644 -> 0640",
        f"{given}: set (it differed)",
    ]
    assert not play(tmp_path, tasks)["r1"]["changed"]


def test_the_files_form_writes_validates_and_names_settings(tmp_path: Path) -> None:
    env, unit = tmp_path / "svc.env", tmp_path / "svc.service"
    files = (
        f'          - {{dest: {env}, content: "A=1\\nAPI_TOKEN={{{{ token }}}}\\n",'
        " settings_format: env, mode: '0640'}\n"
        f'          - {{dest: {unit}, content: "[Service]\\nExecStart=/bin/true\\n",'
        " validate: 'grep -q ExecStart %s'}\n"
    )
    tasks = (
        "    - name: Files\n      fleet_config:\n        files:\n" + files + "      register: r1\n"
    )
    play(tmp_path, tasks, "-e", "token=first-secret-1")
    assert env.read_text() == "A=1\nAPI_TOKEN=first-secret-1\n" and mode(env) == "0640"
    assert mode(unit) == "0644"
    env.write_text("A=2\nAPI_TOKEN=by-hand-secret-2\n")
    checked = play(tmp_path, tasks, "--check", "--diff", "-e", "token=first-secret-1")
    assert env.read_text() == "A=2\nAPI_TOKEN=by-hand-secret-2\n"
    # Checking: from what the play declares to what the host has.
    assert checked["r1"]["settings"] == [f"{env}: A: 1 -> 2", f"{env}: API_TOKEN: changed (secret)"]
    assert "by-hand-secret-2" not in checked["output"] + json.dumps(checked["r1"])
    play(tmp_path, tasks, "-e", "token=first-secret-1")
    assert not play(tmp_path, tasks, "-e", "token=first-secret-1")["r1"]["changed"]
    refused = tasks.replace("grep -q ExecStart", "grep -q Nowhere").replace(
        "register: r1\n", "register: r1\n      ignore_errors: true\n"
    )
    unit.unlink()
    result = play(tmp_path, refused, "-e", "token=first-secret-1")["r1"]
    assert result["failed"] and result["msg"].startswith(f"{unit}: refused by grep")
    assert not unit.exists()


def test_an_unknown_option_of_an_entry_is_refused_by_name(tmp_path: Path) -> None:
    tasks = (
        "    - name: Files\n      fleet_config:\n        files:\n"
        f"          - {{dest: {tmp_path}/x, content: x, backup: true}}\n"
        "      register: r1\n      ignore_errors: true\n"
    )
    result = play(tmp_path, tasks)["r1"]
    assert result["failed"] and "got backup, content, dest" in result["msg"]


def test_missing_packages_and_other_versions_are_told_apart() -> None:
    installed = {"procps": "2:4.0.2-3", "amazon-ssm-agent": "3.3.1142.0-1"}
    assert fleet_missing_packages(["procps", "logrotate"], installed) == ["logrotate"]
    assert fleet_missing_packages("procps", installed) == []
    assert fleet_missing_packages(["procps"], None) == ["procps"]  # no facts: the task runs
    assert not fleet_package_differs(installed, "amazon-ssm-agent", "3.3.1142.0")
    assert fleet_package_differs(installed, "amazon-ssm-agent", "3.3.1143.0")
    assert fleet_package_differs(installed, "amazon-cloudwatch-agent", "1.0")


def test_the_corpus_is_shipped_only_where_a_document_differs(tmp_path: Path) -> None:
    src, dest = tmp_path / "corpus", "/srv/documents"
    (src / "guides").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "guides" / "b.md").write_text("beta")
    held: list[dict[str, Any]] = [
        {"path": f"{dest}/a.txt", "mode": "0640", "pw_name": "root", "gr_name": "rag",
         "checksum": "be76331b95dfc399cd776d2fc68021e0db03cc4f"},
        {"path": f"{dest}/guides", "isdir": True, "mode": "0750", "pw_name": "root",
         "gr_name": "rag"},
        {"path": f"{dest}/guides/b.md", "mode": "0640", "pw_name": "root", "gr_name": "rag",
         "checksum": "not-beta"},
    ]  # fmt: skip
    assert fleet_rag_documents_to_ship(held, str(src), dest, "root", "rag") == ["guides/b.md"]
    held[0]["mode"] = "0644"
    assert fleet_rag_documents_to_ship(held[:2], str(src), dest, "root", "rag") == [
        "a.txt",
        "guides/b.md",
    ]
