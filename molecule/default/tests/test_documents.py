"""Documents fleet-wide. An ordinary user (not the admin) uploads PDFs to Open WebUI through the
load balancer, one into a knowledge collection of their own and one as a chat attachment: the
files land in the uploads bucket, their vectors in the rag tier's Chroma, and a question asked
through the other gpu-node is answered from them, the document cited - in the API (the host
addressed directly) and in a browser (held on it by the load balancer's stickiness cookie).
Then the vector store is wiped, as when its volume is lost, and `playbooks/reindex.yml` rebuilds
it: fleet-rag's corpus and the users' documents are cited again. The model behind Open WebUI is
the Ollama TEST STAND-IN (it repeats what it was given)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from lab_stack import (
    GPU_HOST,
    OTHER_GPU_HOST,
    RAG_HOST,
    RAG_QUESTION,
    RAG_SOURCE,
    SCREENSHOTS,
    answer_text,
    api,
    chat,
    host_url,
    lab_host,
    sign_in,
    signin,
    wait_until,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from fleetlib.paths import REPO, venv_bin
from fleetlib.wiring import wired
from lab.aws import uploads_bucket
from lab.config import CHROMA_TARGET_GROUP_PORT, REGION, lab_network
from lab.ec2 import DUMMY_CREDENTIALS
from lab.state import LabState
from tests.helpers import run_tool

UPLOADS = REPO / "tests" / "fixtures" / "uploads"
KNOWLEDGE_FILE = "pelican-ferry-timetable.pdf"
KNOWLEDGE_QUESTION = "When does the Pelican ferry leave the north pier?"
KNOWLEDGE_FACT = "07:40"
ATTACHMENT_FILE = "glacier-station-manual.pdf"
ATTACHMENT_QUESTION = "How often must the Glacier station heater be refuelled?"
ATTACHMENT_FACT = "every eleven days"
MODEL = "llama3.2:1b"


@dataclass(frozen=True)
class Uploads:
    email: str
    password: str
    token: str
    knowledge_id: str
    knowledge_name: str
    knowledge_file_id: str
    attachment_id: str


def upload(url: str, token: str, name: str) -> dict[str, Any]:
    """A file uploaded as the browser does it, processed (extracted, embedded) before it answers."""
    response = requests.post(
        f"{url}/api/v1/files/?process=true&process_in_background=false",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, (UPLOADS / name).read_bytes(), "application/pdf")},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    uploaded: dict[str, Any] = response.json()
    return uploaded


def collection_of(
    url: str, token: str, settings: dict[str, Any], name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A knowledge collection made with these settings, holding the uploaded file name."""
    knowledge: dict[str, Any] = api("POST", f"{url}/api/v1/knowledge/create", token, settings)
    document = upload(url, token, name)
    api(
        "POST",
        f"{url}/api/v1/knowledge/{knowledge['id']}/file/add",
        token,
        {"file_id": document["id"]},
    )
    return knowledge, document


@pytest.fixture(scope="session")
def uploads(webui_url: str, webui_token: str) -> Uploads:
    """A user the admin adds from inside the VPC (a gpu-node's own address: through the load
    balancer no account is created with single sign-on), who uploads through the load balancer
    (either gpu-node serves)."""
    email = f"reader-{secrets.token_hex(4)}@llm-fleet.local"
    password = secrets.token_urlsafe(16)
    api(
        "POST",
        f"{host_url(GPU_HOST)}/api/v1/auths/add",
        webui_token,
        {"name": "Fleet Reader", "email": email, "password": password, "role": "user"},
    )
    token: str = signin(webui_url, email, password)["token"]
    name = f"harbour-{secrets.token_hex(3)}"
    knowledge, in_knowledge = collection_of(
        webui_url, token, {"name": name, "description": "Ferry timetables"}, KNOWLEDGE_FILE
    )
    attachment = upload(webui_url, token, ATTACHMENT_FILE)
    return Uploads(
        email, password, token, knowledge["id"], name, in_knowledge["id"], attachment["id"]
    )


def ask(url: str, token: str, question: str, files: list[dict[str, str]]) -> dict[str, Any]:
    return chat(url, token, MODEL, question, files)


def cited(reply: dict[str, Any]) -> set[str]:
    """The documents Open WebUI lists as the answer's sources (each passage names its file)."""
    return {
        str(meta.get("name") or meta.get("source"))
        for source in reply.get("sources", [])
        for meta in source.get("metadata", [])
    }


def chroma(path: str) -> requests.Response:
    """GET from the fleet's Chroma through the rag tier's load balancer, with its token."""
    token = lab_host(RAG_HOST).file("/etc/chroma/token").content_string.strip()
    base = f"http://{lab_network().load_balancer_address}:{CHROMA_TARGET_GROUP_PORT}"
    return requests.get(
        f"{base}/api/v2/{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def chroma_collections() -> set[str]:
    listed = chroma("tenants/default_tenant/databases/default_database/collections")
    assert listed.status_code == 200, listed.text
    return {str(c["name"]) for c in listed.json()}


def test_ordinary_users_may_use_the_models_and_create_knowledge_collections(
    uploads: Uploads, webui_url: str
) -> None:
    models = {m["id"] for m in api("GET", f"{webui_url}/api/models", uploads.token)["data"]}
    assert {MODEL, "fleet-rag"} <= models  # Open WebUI's default would show a user none
    assert uploads.knowledge_id  # created with a user's token: the permission is on


def test_answers_are_capped_at_the_fleets_length_and_users_cannot_lift_it(
    uploads: Uploads, webui_url: str, webui_token: str
) -> None:
    """The wiring's fleet_answer_max_tokens is every model's default num_predict (the drains
    are derived from it), and an ordinary user gets no advanced parameters to change it."""
    cap = int(wired("fleet_answer_max_tokens"))
    config = api("GET", f"{webui_url}/api/v1/configs/models", webui_token)
    assert config["DEFAULT_MODEL_PARAMS"] == {"num_predict": cap}
    me = api("GET", f"{webui_url}/api/v1/auths/", uploads.token)
    assert me["permissions"]["chat"]["params"] is False


def test_the_files_are_in_the_bucket_and_their_vectors_in_the_shared_chroma(
    uploads: Uploads,
) -> None:
    state = LabState.load()
    assert state is not None
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=state.endpoint, **DUMMY_CREDENTIALS)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=uploads_bucket()).get("Contents", [])]
    for file_id in (uploads.knowledge_file_id, uploads.attachment_id):
        assert any(file_id in key for key in keys), keys
    collections = chroma_collections()
    assert uploads.knowledge_id in collections
    assert f"file-{uploads.attachment_id}" in collections
    for name in (GPU_HOST, OTHER_GPU_HOST):  # no gpu-node keeps vectors of its own
        found = lab_host(name).run(f"find {wired('fleet_data_dir')} -name 'chroma.sqlite3'")
        assert found.stdout.strip() == "", found.stdout


def test_the_other_gpu_node_answers_from_the_collection_and_the_attachment(
    uploads: Uploads,
) -> None:
    other = host_url(OTHER_GPU_HOST)
    collection = [{"type": "collection", "id": uploads.knowledge_id}]
    from_knowledge = ask(other, uploads.token, KNOWLEDGE_QUESTION, collection)
    assert KNOWLEDGE_FILE in cited(from_knowledge), from_knowledge.get("sources")
    assert KNOWLEDGE_FACT in answer_text(from_knowledge)
    from_attachment = ask(
        other, uploads.token, ATTACHMENT_QUESTION, [{"type": "file", "id": uploads.attachment_id}]
    )
    assert ATTACHMENT_FILE in cited(from_attachment), from_attachment.get("sources")
    assert ATTACHMENT_FACT in answer_text(from_attachment)


def test_in_a_browser_the_other_gpu_node_answers_citing_the_collection(
    browser: WebDriver, webui_url: str, uploads: Uploads
) -> None:
    """The user's browser, held on the other gpu-node by the load balancer's stickiness cookie,
    picks their collection with '#', asks, and sees the answer with the document named among its
    sources."""
    wait = WebDriverWait(browser, 60)
    state = LabState.load()
    assert state is not None
    (instance,) = [host.instance_id for host in state.hosts if host.name == OTHER_GPU_HOST]
    browser.get(f"{webui_url}/health")
    browser.add_cookie({"name": "AWSALB", "value": instance, "path": "/"})
    chat_input = sign_in(browser, webui_url, uploads.password, uploads.email)
    chat_input.click()
    chat_input.send_keys(f"#{uploads.knowledge_name}")
    pick = (By.XPATH, f'//button[contains(., "{uploads.knowledge_name}")]')
    wait.until(ec.element_to_be_clickable(pick)).click()
    chat_input.send_keys(KNOWLEDGE_QUESTION)
    chat_input.send_keys(Keys.ENTER)
    WebDriverWait(browser, 180).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "body"), KNOWLEDGE_FACT)
    )
    # The answer's sources, opened as a user does: the document is named there.
    sources = (By.XPATH, '//button[contains(., "1 Source")]')
    wait.until(ec.element_to_be_clickable(sources)).click()
    named = (By.XPATH, f'//*[normalize-space(text())="{KNOWLEDGE_FILE}"]')
    wait.until(ec.visibility_of_element_located(named))
    browser.save_screenshot(str(SCREENSHOTS / "knowledge-answer.png"))
    assert (SCREENSHOTS / "knowledge-answer.png").stat().st_size > 10_000


def fleet_rag_answer(webui_url: str, token: str) -> str:
    return answer_text(chat(webui_url, token, "fleet-rag", RAG_QUESTION))


def wipe_the_vector_store() -> None:
    """The rag-node's Chroma loses its data, as when its volume is lost: stopped, its folder
    emptied, started again on nothing."""
    data = f"{wired('fleet_data_dir')}/chroma"
    rag_node = lab_host(RAG_HOST)
    rag_node.check_output("systemctl stop chroma.service")
    rag_node.check_output(f"find {data} -mindepth 1 -delete")
    rag_node.check_output("systemctl start chroma.service")
    wait_until(lambda: chroma("heartbeat").ok, 120)


@pytest.mark.disruptive
def test_a_wiped_vector_store_is_rebuilt_by_the_reindex_playbook(
    uploads: Uploads, webui_url: str, webui_token: str
) -> None:
    other = host_url(OTHER_GPU_HOST)
    knowledge = [{"type": "collection", "id": uploads.knowledge_id}]
    attachment = [{"type": "file", "id": uploads.attachment_id}]
    wipe_the_vector_store()
    # What a user sees while the vector store is empty: answers without their documents.
    blind = ask(other, uploads.token, KNOWLEDGE_QUESTION, knowledge)
    print(f"\nwhile empty, a collection answer cites {cited(blind) or 'nothing'}")
    assert KNOWLEDGE_FILE not in cited(blind)
    assert "Sources: none" in fleet_rag_answer(webui_url, webui_token)  # said, not an error

    started = time.monotonic()
    run = run_tool(
        venv_bin("ansible-playbook"), "-i", "inventories/lab", "playbooks/reindex.yml", timeout=1800
    )
    took = time.monotonic() - started
    print(run.stdout[-4000:], run.stderr[-2000:])
    assert run.returncode == 0
    print(f"reindex.yml (the rag tier converged, the corpus and the uploads indexed): {took:.0f}s")

    assert f"Sources:\n1. {RAG_SOURCE}" in fleet_rag_answer(webui_url, webui_token)
    assert KNOWLEDGE_FILE in cited(ask(other, uploads.token, KNOWLEDGE_QUESTION, knowledge))
    assert ATTACHMENT_FILE in cited(ask(other, uploads.token, ATTACHMENT_QUESTION, attachment))
