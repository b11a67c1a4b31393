"""chromadb_rag: Chroma (token auth) and fleet-rag run hardened on loopback; the shipped
documents are ingested and retrievable with their sources."""

from __future__ import annotations

import json
from typing import Any

import pytest
from testinfra.host import Host

from fleetlib.wiring import wired

# The wiring layer's values (never copies of them).
CHROMA_PORT = wired("chroma_port")
CHROMA = f"http://127.0.0.1:{CHROMA_PORT}"
FLEET_RAG_PORT = wired("fleet_rag_port")
FLEET_RAG = f"http://127.0.0.1:{FLEET_RAG_PORT}"
RAG_HOME = f"{wired('fleet_data_dir')}/fleet-rag"
HEARTBEAT = f"import urllib.request; urllib.request.urlopen('{CHROMA}/api/v2/heartbeat')"
ENV = "set -a; . /etc/fleet-rag/fleet-rag.env; set +a;"
COLLECTIONS = f"{CHROMA}/api/v2/tenants/default_tenant/databases/default_database/collections"


def http_status(host: Host, url: str, token: str = "") -> int:
    script = (
        "import sys, urllib.request, urllib.error\n"
        "r = urllib.request.Request(sys.argv[1])\n"
        "if sys.argv[2]: r.add_header('Authorization', 'Bearer ' + sys.argv[2])\n"
        "try: print(urllib.request.urlopen(r, timeout=10).status)\n"
        "except urllib.error.HTTPError as e: print(e.code)\n"
    )
    return int(host.check_output("python3 -c %s %s %s", script, url, token))


def get_json(host: Host, url: str) -> Any:
    script = (
        "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"
    )
    return json.loads(host.check_output("python3 -c %s %s", script, url))


def fleet_rag(host: Host, *args: str) -> str:
    placeholders = " ".join(["%s"] * len(args))
    command = f"{ENV} runuser -u rag -- /opt/fleet-rag/venv/bin/fleet-rag {placeholders}"
    return str(host.check_output(command, *args))


@pytest.mark.parametrize(
    ("unit", "user", "port"),
    [("chroma", "chroma", CHROMA_PORT), ("fleet-rag", "rag", FLEET_RAG_PORT)],
)
def test_services_run_as_their_users_on_loopback(
    host: Host, unit: str, user: str, port: int
) -> None:
    service = host.service(f"{unit}.service")
    assert service.is_running and service.is_enabled
    assert host.check_output(f"systemctl show -p User --value {unit}.service") == user
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening
    show = host.check_output(f"systemctl show {unit}.service -p ProtectSystem -p NoNewPrivileges")
    assert "ProtectSystem=strict" in show and "NoNewPrivileges=yes" in show


def test_chroma_requires_its_token(host: Host) -> None:
    token_file = host.file("/etc/chroma/token")
    assert token_file.mode == 0o640 and token_file.group == "chroma"
    token = token_file.content_string.strip()
    assert len(token) == 48
    assert http_status(host, COLLECTIONS) == 403
    assert http_status(host, COLLECTIONS, "wrong-token") == 403
    assert http_status(host, COLLECTIONS, token) == 200


def test_rag_service_answers_health_and_lists_its_model(host: Host) -> None:
    assert http_status(host, f"{FLEET_RAG}/health") == 200
    tags = get_json(host, f"{FLEET_RAG}/api/tags")
    assert [m["name"] for m in tags["models"]] == ["fleet-rag"]


def test_every_shipped_document_is_ingested(host: Host) -> None:
    sources = json.loads(fleet_rag(host, "list", "--json"))
    assert set(sources) == {
        "aurora-operations.pdf",
        "borealis-handbook.docx",
        "quasar-bakery.txt",
        "zephyr-colony.md",
    }


@pytest.mark.parametrize(
    ("question", "citation"),
    [
        ("How often is the Aurora turbine maintained?", "aurora-operations.pdf (page 2)"),
        ("What do the Zephyr penguins eat?", "zephyr-colony.md (Zephyr colony > Diet)"),
    ],
)
def test_an_ingested_document_is_retrievable_with_its_source(
    host: Host, question: str, citation: str
) -> None:
    matches = json.loads(fleet_rag(host, "query", question, "--json"))
    assert matches[0]["source"] == citation


def test_data_survives_a_restart(host: Host) -> None:
    before = json.loads(fleet_rag(host, "list", "--json"))
    host.check_output("systemctl restart chroma.service")
    host.check_output(
        "for i in $(seq 60); do python3 -c %s 2>/dev/null && exit 0; sleep 1; done; exit 1",
        HEARTBEAT,
    )
    assert json.loads(fleet_rag(host, "list", "--json")) == before


def test_chroma_answers_stored_embeddings_for_mmr(host: Host) -> None:
    """The deployed server returns stored vectors (fleet_chroma_api), so fleet-rag's MMR does
    not embed the candidates again; as Chroma ships it, this request fails."""
    script = (
        "import os, chromadb\n"
        "token = os.environ['FLEET_RAG_CHROMA_TOKEN']\n"
        f"client = chromadb.HttpClient(host='127.0.0.1', port={CHROMA_PORT},"
        " headers={'Authorization': 'Bearer ' + token})\n"
        "found = client.get_collection('documents').get(limit=2, include=['embeddings'])\n"
        "print(len(found['embeddings']), len(found['embeddings'][0]))\n"
    )
    command = f"{ENV} runuser -u rag -- /opt/fleet-rag/venv/bin/python -c %s"
    assert host.check_output(command, script).split() == ["2", "384"]


def test_health_names_the_embedder_device_precision_and_backend(host: Host) -> None:
    health = get_json(host, f"{FLEET_RAG}/health")
    # A lab host has no GPU: the CPU, in bfloat16 where it multiplies it natively, through
    # OpenVINO (the role installs it).
    flags = host.file("/proc/cpuinfo").content_string
    native = "avx512_bf16" in flags or "amx_bf16" in flags
    assert health["embedder"] == {
        "device": "cpu",
        "precision": "bfloat16" if native else "float32",
        "backend": "openvino",
    }


def test_the_converted_model_is_kept_in_the_data_folder(host: Host) -> None:
    # Converted once (by the ingestion or the first question), read by every later start.
    models = host.run(f"find {RAG_HOME}/openvino -name model.xml -user rag")
    assert models.rc == 0 and models.stdout.count("model.xml") == 1
    assert not host.file(f"{RAG_HOME}/intel").exists  # no usage reports
