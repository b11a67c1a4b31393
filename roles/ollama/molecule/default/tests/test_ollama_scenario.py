"""ollama role with the Ollama-API-compatible TEST STAND-IN (not Ollama): install layout,
hardened service on loopback, health, upgrade by one variable (side_effect), model pull/prune,
and restart by systemd after a kill."""

from __future__ import annotations

import json
import time

from testinfra.host import Host

from fleetlib.wiring import wired
from tests.helpers import systemd_exposure

# The wiring layer's values the role's default setup uses (never copies of them).
OLLAMA = f"http://127.0.0.1:{wired('ollama_port')}"
MODELS = f"{wired('fleet_data_dir')}/ollama/models"
GET = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
CHAT = (
    "import json, urllib.request; body = json.dumps({'model': 'llama3.2:1b', 'stream': False,"
    " 'messages': [{'role': 'user', 'content': 'hello'}]}).encode();"
    " print(urllib.request.urlopen(urllib.request.Request("
    f"'{OLLAMA}/api/chat', data=body)).read().decode())"
)


def api(host: Host, path: str) -> dict[str, object]:
    data = json.loads(host.check_output("python3 -c %s %s", GET, f"{OLLAMA}{path}"))
    assert isinstance(data, dict)
    return data


def test_stand_in_release_is_unpacked_per_version_behind_a_symlink(host: Host) -> None:
    assert host.file("/opt/ollama/0.12.5/bin/ollama").is_file  # kept for a rollback
    assert host.file("/opt/ollama/0.12.6/bin/ollama").is_file
    assert host.file("/opt/ollama/current").linked_to == "/opt/ollama/0.12.6"
    assert host.file("/usr/local/bin/ollama").is_symlink


def test_upgrade_restarted_the_service_onto_the_new_version(host: Host) -> None:
    assert api(host, "/api/version") == {"version": "0.12.6"}
    before, after = host.file("/root/ollama-invocations.txt").content_string.split()
    assert before != after


def test_service_runs_hardened_as_its_user_on_loopback(host: Host) -> None:
    assert host.service("ollama.service").is_running
    assert host.service("ollama.service").is_enabled
    assert host.check_output("systemctl show -p User --value ollama.service") == "ollama"
    assert host.socket(f"tcp://127.0.0.1:{wired('ollama_port')}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{wired('ollama_port')}").is_listening
    show = host.check_output("systemctl show ollama.service -p ProtectSystem -p NoNewPrivileges")
    assert "ProtectSystem=strict" in show and "NoNewPrivileges=yes" in show
    env = host.check_output("systemctl show -p Environment --value ollama.service")
    assert f"OLLAMA_MODELS={MODELS}" in env
    assert "OLLAMA_NUM_PARALLEL=4" in env and "OLLAMA_FLASH_ATTENTION=1" in env
    assert "OLLAMA_MAX_QUEUE=512" in env and "OLLAMA_KV_CACHE_TYPE=f16" in env


# Three clients have sent a request Ollama has not answered yet (as queued requests have), while a
# StatsD listener stands where the CloudWatch agent would: the next gauges count them (the mean,
# the peak, the share of 4 slots).
IN_FLIGHT = f"""
import socket, time
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", {wired("cloudwatch_agent_statsd_address").rpartition(":")[2]}))
listener.settimeout(30)
clients = [socket.create_connection(("127.0.0.1", {wired("ollama_port")})) for _ in range(3)]
for client in clients:
    client.send(b"POST /api/chat HTTP/1.1\\r\\n")  # the rest of the request is still to come
deadline = time.monotonic() + 40
while time.monotonic() < deadline:
    packet = listener.recv(4096).decode()
    if "_max:3|g" in packet and "ollama_generations_in_flight:3.00|g" in packet:
        print(packet)
        break
"""


def test_generations_in_flight_reach_the_agents_statsd_listener(host: Host) -> None:
    """ollama-in-flight.service: the open connections to Ollama (running and queued requests),
    sent as StatsD gauges to the wiring's address; its own user, sandboxed (exposure <= 4.0)."""
    packet = host.check_output("python3 -c %s", IN_FLIGHT)
    name = wired("fleet_in_flight_metric")
    assert f"{name}:3.00|g" in packet and f"{name}_max:3|g" in packet
    assert f"{name}_percent:75.0|g" in packet  # 3 of the default 4 slots
    assert host.check_output("systemctl show -p User --value ollama-in-flight.service") == (
        "ollama-metrics"
    )
    level, shown = systemd_exposure(host.check_output, "ollama-in-flight.service")
    assert level <= 4.0, shown[-600:]


def test_models_are_pulled_and_the_unlisted_one_pruned(host: Host) -> None:
    models = api(host, "/api/tags")["models"]
    assert isinstance(models, list)
    assert [m["name"] for m in models] == ["llama3.2:1b"]
    manifest = f"{MODELS}/manifests/registry.ollama.ai/library/llama3.2/1b"
    assert host.file(manifest).user == "ollama"


def test_the_stand_in_answers_a_chat(host: Host) -> None:
    reply = json.loads(host.check_output("python3 -c %s", CHAT))
    assert reply["done"] is True
    assert reply["message"]["content"] == "Stand-in answer from llama3.2:1b to: hello"


def test_systemd_brings_a_killed_server_back(host: Host) -> None:
    pid = host.check_output("systemctl show -p MainPID --value ollama.service")
    host.check_output("systemctl kill --signal=SIGKILL ollama.service")
    for _ in range(30):
        time.sleep(1)
        new_pid = host.check_output("systemctl show -p MainPID --value ollama.service")
        if (
            new_pid not in ("0", pid)
            and host.socket(f"tcp://127.0.0.1:{wired('ollama_port')}").is_listening
        ):
            break
    assert new_pid not in ("0", pid)
    assert api(host, "/api/version") == {"version": "0.12.6"}
