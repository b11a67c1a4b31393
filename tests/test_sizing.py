"""The sizing model (benchmarks/load/sizing.py): Little's law on a case worked by hand, its inputs
read from the hosts' own settings, terraform's defaults and docs/capacity.md kept to its answer."""

from __future__ import annotations

import math

import jinja2
import pytest
import yaml

from benchmarks.load import sizing
from fleetlib.paths import REPO
from tests.hcl import load


def test_a_case_worked_by_hand() -> None:
    """g5.xlarge (A10G, 600 GB/s, 8 slots), llama3.1:8b (4.9 GB): one stream at 0.7247 x 600 /
    4.9 = 88.7 tokens/s; 8 together at 88.7 x 8 / 2.05 = 346 (43.3 each); a 1000-token prompt at
    3806.89 tokens/s is 0.263 s; a 250-token answer holds a slot 0.263 + 250 / 43.3 = 6.04 s.
    3000 users thinking 45 s: 3000 x 6.04 / 51.04 = 355 in flight, / (8 x 0.75) = 60 hosts."""
    data = sizing.inputs()
    g5 = sizing.host(data, "g5.xlarge", "llama3.1:8b")
    assert g5.single_tokens_per_s == pytest.approx(111.95 * 4.92 / 760 * 600 / 4.9)
    assert g5.stream_tokens_per_s == pytest.approx(g5.single_tokens_per_s / (1 + 0.15 * 7))
    assert g5.first_token_s == pytest.approx(1000 / 3806.89)
    answer = g5.first_token_s + 250 / g5.stream_tokens_per_s
    assert g5.seconds_per_answer == pytest.approx(answer)
    crowd = sizing.fleet(data, g5, 3000)
    assert crowd.in_flight == pytest.approx(3000 * answer / (answer + 45))
    assert crowd.hosts == math.ceil(crowd.in_flight / 6) == 60
    assert crowd.bound_by == "GPU"
    assert crowd.usd_per_hour == pytest.approx(60 * 1.006 + data["fixed_usd_per_hour"])
    few = sizing.fleet(data, g5, 100)
    assert few.hosts == 2 and few.bound_by == "two zones"


def test_slots_and_capacity_are_the_hosts_own_settings() -> None:
    """Ollama's slots and the gate's capacity (open_webui_capacity) per instance type."""
    for instance_type in sizing.inputs()["instance_types"]:
        ollama, capacity = (sizing.group_file(instance_type, f"{name}.yml")
                            for name in ("ollama", "capacity"))  # fmt: skip
        assert (
            sizing.slots(instance_type) == yaml.safe_load(ollama.read_text())["ollama_num_parallel"]
        )
        serving = sizing.host(sizing.inputs(), instance_type, sizing.inputs()["plan"]["model"])
        group = yaml.safe_load(capacity.read_text())
        assert group["open_webui_capacity"] == sizing.capacity(sizing.inputs(), serving)
        for path in (ollama, capacity):  # the lab's hosts read the same files
            lab = REPO / "inventories/lab/group_vars" / path.parent.name / path.name
            assert lab.resolve() == path.resolve()
    with pytest.raises(SystemExit, match=r"type_p4d_24xlarge/ollama\.yml is missing"):
        sizing.slots("p4d.24xlarge")


def test_workers_follow_the_roles_rule_and_fit_its_memory_share() -> None:
    """Open WebUI's workers per instance type: the open_webui role's auto (its vCPUs less the 2 it
    reserves: 2 on an xlarge, 6 on a 2xlarge), which the sizing counts the same way; their
    measured memory fits open_webui_memory_max_percent of the type's memory."""
    data = sizing.inputs()
    defaults = yaml.safe_load((REPO / "roles/open_webui/defaults/main.yml").read_text())
    rule = yaml.safe_load((REPO / "roles/open_webui/vars/main.yml").read_text())
    template = jinja2.Environment().from_string(rule["__open_webui_workers"])
    memory = data["front_end_memory_mib"]
    for instance_type, kind in data["instance_types"].items():
        expected = {4: 2, 8: 6}[kind["vcpus"]]
        reserved = defaults["open_webui_reserved_vcpus"]
        role = template.render(
            open_webui_workers="auto", open_webui_reserved_vcpus=reserved,
            __open_webui_vcpus={"stdout": str(kind["vcpus"])},
        )  # fmt: skip
        assert int(role) == sizing.workers(data, instance_type) == expected, instance_type
        needed = expected * memory["per_worker"] + memory["supervisor"]
        share = kind["memory_gib"] * 1024 * defaults["open_webui_memory_max_percent"] / 100
        assert needed <= share, f"{instance_type}: {needed} MiB of Open WebUI in {share:.0f}"


def test_a_faster_engine_needs_fewer_gpus_and_longer_thinking_fewer_hosts() -> None:
    """A faster engine shortens answers (fewer in flight) and halves the GPU's share, but its
    faster streams load the front end as much: past a point the front end binds."""
    data = sizing.inputs()
    g5 = sizing.host(data, "g5.xlarge", "llama3.1:8b")
    base = sizing.fleet(data, g5, 1000)
    faster = sizing.fleet(data, g5, 1000, engine_factor=2.0)
    assert faster.in_flight < base.in_flight
    assert (base.bound_by, faster.bound_by) == ("GPU", "front end")
    assert (
        sizing.fleet(data, g5, 1000, think=90).hosts
        < base.hosts
        < sizing.fleet(data, g5, 1000, 20).hosts
    )


def test_terraform_defaults_are_the_sizing_for_100_and_3000_users() -> None:
    config = load()
    plan = sizing.inputs()["plan"]
    assert config.default("instance_type") == plan["instance_type"]
    assert config.default("fleet_min_size") == sizing.planned_hosts(100)
    assert config.default("fleet_max_size") == sizing.planned_hosts(3000)
    assert config.default("in_flight_target_percent") == 100 * sizing.inputs()["target_utilisation"]


def test_the_capacity_guide_shows_the_models_current_answer() -> None:
    guide = (REPO / "docs/capacity.md").read_text()
    assert sizing.tables(sizing.DEFAULT_USERS) in guide, (
        "docs/capacity.md is out of date: paste `python -m benchmarks.load.sizing` into it"
    )
