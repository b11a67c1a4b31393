"""How many GPU hosts a number of concurrent chat users needs, by Little's law, and what they cost
per hour. Inputs: benchmarks/load/sizing.yml (each with its source), Ollama's parallel slots
per instance type from inventories/group_vars/type_*/ollama.yml and Open WebUI's workers per host by
the open_webui role's rule (its vCPUs less open_webui_reserved_vcpus). Prints the tables
docs/capacity.md shows; terraform's fleet_min_size / fleet_max_size defaults are this model's
answer for 100 and 3000 users on its default instance type (tests/test_sizing.py keeps them
equal).

    .venv/bin/python -m benchmarks.load.sizing [--users 100,1000,3000] [--think 45]

The model, per instance type and chat model:
  single   = efficiency x GPU bandwidth / weights          (tokens/s of one stream)
  batch(n) = single x n / (1 + overhead x (n - 1))         (tokens/s of n streams together)
  R        = prompt / prefill + answer / (batch(n) / n)    (seconds a question holds a slot)
  L        = users x R / (R + think)                       (Little's law: streams in flight)
  front    = workers x front end tokens/s                  (what the host's Open WebUI streams)
  hosts    = max(L / (n x target), L x batch(n) / n / front, minimum)
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetlib.paths import REPO

INPUTS = Path(__file__).with_name("sizing.yml")
GROUP_VARS = REPO / "inventories" / "group_vars"
WEBUI_DEFAULTS = REPO / "roles" / "open_webui" / "defaults" / "main.yml"
DEFAULT_USERS = (100, 1000, 3000)


def inputs() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(INPUTS.read_text())
    return data


def group_file(instance_type: str, name: str) -> Path:
    """One of the inventory's files for the type's group: ollama.yml, capacity.yml."""
    return GROUP_VARS / f"type_{instance_type.replace('.', '_')}" / name


def slots(instance_type: str) -> int:
    """Ollama's NUM_PARALLEL for the type, from the inventory's type_* group (the hosts' own)."""
    path = group_file(instance_type, "ollama.yml")
    if not path.exists():
        raise SystemExit(
            f"{path.relative_to(REPO)} is missing: no Ollama settings for {instance_type}"
        )
    return int(yaml.safe_load(path.read_text())["ollama_num_parallel"])


def workers(data: dict[str, Any], instance_type: str) -> int:
    """Open WebUI's workers on a host of the type: the open_webui role's `auto` (its vCPUs less
    open_webui_reserved_vcpus, at least 1)."""
    reserved = int(yaml.safe_load(WEBUI_DEFAULTS.read_text())["open_webui_reserved_vcpus"])
    return max(int(data["instance_types"][instance_type]["vcpus"]) - reserved, 1)


@dataclass(frozen=True)
class Host:
    """What one host of a type serves for one model."""

    instance_type: str
    model: str
    slots: int
    workers: int
    single_tokens_per_s: float
    stream_tokens_per_s: float
    first_token_s: float
    seconds_per_answer: float
    usd_per_hour: float


def host(data: dict[str, Any], instance_type: str, model: str) -> Host:
    kind = data["instance_types"][instance_type]
    gpu, weights = data["gpus"][kind["gpu"]], data["models"][model]
    ref, work = data["reference"], data["workload"]
    efficiency = ref["generate_tokens_per_second"] * ref["weights_gb"] / ref["bandwidth_gb_per_s"]
    single = efficiency * gpu["bandwidth_gb_per_s"] / weights["weights_gb"]
    n = slots(instance_type)
    batch = single * n / (1 + data["batch_overhead_per_stream"] * (n - 1))
    prefill = (
        ref["prefill_tokens_per_second"] * gpu["prefill_vs_reference"]
        * ref["parameters_b"] / weights["parameters_b"]
    )  # fmt: skip
    first = work["prompt_tokens"] / prefill
    return Host(
        instance_type=instance_type,
        model=model,
        slots=n,
        workers=workers(data, instance_type),
        single_tokens_per_s=single,
        stream_tokens_per_s=batch / n,
        first_token_s=first,
        seconds_per_answer=first + work["answer_tokens"] / (batch / n),
        usd_per_hour=kind["usd_per_hour"],
    )


def capacity(data: dict[str, Any], serving: Host) -> int:
    """The generations a host admits at once (open_webui_capacity in its type_*/capacity.yml):
    the lower of what its front end streams at its knee (its workers' tokens/s over one stream's
    rate) and its model's slots plus a queue. A request admitted to wait for a slot may wait a
    whole answer (answers that started together end together: measured, docs/capacity.md), so
    the queue is a slot's worth per whole answer that fits in the first-token bound - none for
    answers longer than the bound, as every sized model's are."""
    front = math.floor(front_end(data, serving) / serving.stream_tokens_per_s)
    bound = float(data["first_token_bound_seconds"])
    queue = serving.slots * math.floor(bound / serving.seconds_per_answer)
    return min(front, serving.slots + queue)


def front_end(data: dict[str, Any], serving: Host) -> float:
    """The tokens/s a host's Open WebUI streams at its knee: its workers, each on a core."""
    return serving.workers * float(data["front_end_tokens_per_second"])


@dataclass(frozen=True)
class Fleet:
    users: int
    in_flight: float
    hosts: int
    bound_by: str
    usd_per_hour: float


def fleet(
    data: dict[str, Any], serving: Host, users: int, think: float | None = None,
    engine_factor: float = 1.0,
) -> Fleet:  # fmt: skip
    """Hosts for `users` concurrent users (each asking again `think` seconds after an answer);
    engine_factor > 1: a faster engine's throughput on the same GPU (vLLM)."""
    think = data["workload"]["think_seconds"] if think is None else think
    answer = (
        serving.first_token_s + (serving.seconds_per_answer - serving.first_token_s) / engine_factor
    )
    in_flight = users * answer / (answer + think)
    gpu = in_flight / (serving.slots * data["target_utilisation"])
    stream_rate = serving.stream_tokens_per_s * engine_factor
    front = in_flight * stream_rate / front_end(data, serving)
    hosts = max(math.ceil(gpu - 1e-9), math.ceil(front - 1e-9), data["minimum_hosts"])
    bound = "GPU" if gpu >= front else "front end"
    if hosts == data["minimum_hosts"] and max(gpu, front) < hosts:
        bound = "two zones"
    cost = hosts * serving.usd_per_hour + data["fixed_usd_per_hour"]
    return Fleet(users, in_flight, hosts, bound, cost)


def tables(users: tuple[int, ...], think: float | None = None) -> str:
    data = inputs()
    lines = [
        "| instance | model | slots | Open WebUI workers | tokens/s, one stream | "
        "tokens/s per stream at full slots | first token | answer |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    hosts = [host(data, t, m) for t in data["instance_types"] for m in data["models"]]
    for h in hosts:
        lines.append(
            f"| {h.instance_type} | {h.model} | {h.slots} | {h.workers} | "
            f"{h.single_tokens_per_s:.0f} | "
            f"{h.stream_tokens_per_s:.0f} | {h.first_token_s:.2f} s | "
            f"{h.seconds_per_answer:.1f} s |"
        )
    lines += ["", "| instance | model | " + " | ".join(f"{u} users" for u in users) + " |",
              "|---|---|" + "---:|" * len(users)]  # fmt: skip
    for h in hosts:
        cells = []
        for u in users:
            f = fleet(data, h, u, think)
            cells.append(f"{f.hosts} hosts ({f.bound_by}), ${f.usd_per_hour:,.2f}/h")
        lines.append(f"| {h.instance_type} | {h.model} | " + " | ".join(cells) + " |")
    plan = data["plan"]
    planned = host(data, plan["instance_type"], plan["model"])
    lines += ["", f"| {plan['instance_type']}, {plan['model']}: think time and engine | "
              + " | ".join(f"{u} users" for u in users) + " |",
              "|---|" + "---:|" * len(users)]  # fmt: skip
    think = float(data["workload"]["think_seconds"])
    vllm = float(data["vllm_throughput_factor"])
    variants: list[tuple[str, float, float]] = [
        (f"think {t:g} s", t, 1.0) for t in (20.0, think, 90.0)
    ] + [(f"vLLM (x{vllm:g} throughput), think {think:g} s", think, vllm)]
    for label, seconds, factor in variants:
        cells = [f"{fleet(data, planned, u, seconds, factor).hosts} hosts" for u in users]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def planned_hosts(users: int) -> int:
    """Hosts the plan (sizing.yml's instance type and model) needs for `users`."""
    data = inputs()
    plan = data["plan"]
    return fleet(data, host(data, plan["instance_type"], plan["model"]), users).hosts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default=",".join(map(str, DEFAULT_USERS)))
    parser.add_argument("--think", type=float, default=None, help="seconds (default: sizing.yml)")
    args = parser.parse_args(argv)
    print(tables(tuple(int(u) for u in args.users.split(",")), args.think))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
