"""A gpu-node's Open WebUI runs open_webui_workers Uvicorn workers (two in the lab, as on the
gpu-nodes' g5.xlarge), and a user sees one service: they sign in, chat as the page does (the
answer over socket.io, whichever worker holds their socket) and stream an API chat, and both
workers take connections. Through the load balancer, held to that host by its stickiness cookie
as a browser is. The model is the Ollama TEST STAND-IN."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import urllib.request
import uuid
from typing import Any

import socketio
from lab_stack import ADMIN_EMAIL, GPU_HOST, api, lab_host, signin

from fleetlib.wiring import wired
from lab.config import lab_var
from lab.podman import podman
from lab.state import LabState

WORKERS = int(lab_var("open_webui_workers"))
MODEL = "llama3.2:1b"
# Connections opened at most to see every worker take one (the kernel hands each new connection
# to one of the workers waiting on the shared socket).
MOST_CONNECTIONS = 24


def connection_owners() -> set[int]:
    """The processes holding Open WebUI's established connections on the host: its workers.
    Read from this machine in the host's network namespace: inside it, root may not see the
    sockets of another user's processes."""
    pid = podman("inspect", "-f", "{{.State.Pid}}", GPU_HOST).strip()
    listing = subprocess.run(
        ["nsenter", "-t", pid, "-n", "ss", "-Htnp", "state", "established",
         f"( sport = :{wired('open_webui_port')} )"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return {int(owner) for owner in re.findall(r"pid=(\d+)", listing)}


def pinned() -> str:
    """The stickiness cookie that holds a client to GPU_HOST."""
    state = LabState.load()
    assert state is not None
    return "AWSALB=" + next(h.instance_id for h in state.hosts if h.name == GPU_HOST)


def page_socket(url: str, token: str) -> socketio.Client:
    """The page's socket.io connection, to GPU_HOST."""
    client = socketio.Client(reconnection=False)
    client.connect(
        url, socketio_path="/ws/socket.io", transports=["websocket"], auth={"token": token},
        headers={"Cookie": pinned()}, wait_timeout=30,
    )  # fmt: skip
    return client


def test_the_gpu_node_runs_its_workers_under_one_service() -> None:
    """UVICORN_WORKERS from open_webui_workers, and that many worker processes started by the
    service's main process (uvicorn's supervisor)."""
    host = lab_host(GPU_HOST)
    environment = host.file("/etc/open-webui/open-webui.env").content_string
    assert f"UVICORN_WORKERS={WORKERS}" in environment
    main = host.check_output("systemctl show -p MainPID --value open-webui.service")
    children = host.check_output("ps -o args= --ppid %s", main).splitlines()
    workers = [args for args in children if "multiprocessing.spawn" in args]
    assert len(workers) == WORKERS == 2, children  # the lab runs what a g5.xlarge runs


def test_a_user_chats_as_the_page_does_and_over_the_api_on_a_two_worker_host(
    webui_url: str, admin_password: str
) -> None:
    url, cookie = webui_url, pinned()
    token = signin(url, ADMIN_EMAIL, admin_password)["token"]

    # The page's path: the chat's and the socket's ids; the answer arrives over socket.io.
    new_chat = {"chat": {"title": "two workers", "models": [MODEL], "messages": []}}
    chat_id = api("POST", f"{url}/api/v1/chats/new", token, new_chat, cookie=cookie)["id"]
    done = threading.Event()
    events: list[dict[str, Any]] = []
    message_id = str(uuid.uuid4())

    def on_event(event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if event.get("message_id") == message_id and data.get("type") == "chat:completion":
            events.append(data.get("data") or {})
            if (data.get("data") or {}).get("done"):
                done.set()

    client = page_socket(url, token)
    client.on("events", on_event)
    try:
        reply = api("POST", f"{url}/api/chat/completions", token, {
            "model": MODEL, "stream": True, "chat_id": chat_id, "id": message_id,
            "session_id": client.get_sid(), "background_tasks": {},
            "messages": [{"role": "user", "content": "Say hello to the fleet."}],
        }, cookie=cookie)  # fmt: skip
        assert reply.get("task_ids"), reply
        assert done.wait(120), f"no end of the answer over socket.io: {events[-3:]}"
    finally:
        client.disconnect()
    assert not any(e.get("error") for e in events), events[-3:]
    assert any(e.get("content") or e.get("output") for e in events), events[-3:]

    # The API's path: the answer streamed over the HTTP response, token by token.
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "Hello?"}]}
    request = urllib.request.Request(
        f"{url}/api/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                 "Cookie": cookie},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as response:
        lines = [line.decode().strip() for line in response if line.strip()]
    assert lines[-1] == "data: [DONE]" and len(lines) > 3, lines[-3:]


def test_both_workers_take_connections(webui_url: str, admin_password: str) -> None:
    """Sockets held open, as the page holds one, until every worker holds one of them."""
    url = webui_url
    token = signin(url, ADMIN_EMAIL, admin_password)["token"]
    clients: list[socketio.Client] = []
    owners: set[int] = set()
    try:
        while len(clients) < MOST_CONNECTIONS:
            clients.append(page_socket(url, token))
            owners = connection_owners()
            if len(owners) >= WORKERS:
                break
    finally:
        for client in clients:
            client.disconnect()
    assert len(owners) == WORKERS, f"{len(clients)} sockets held by {sorted(owners)}"
