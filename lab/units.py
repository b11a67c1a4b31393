"""Settings of a lab host's services for a test or a benchmark, outside site.yml: environment
variables in a systemd drop-in of their own (then a restart and a wait until the service answers),
removed again afterwards. The Ollama TEST STAND-IN's pace is one such setting: how fast it streams
and how long its answers are (STANDIN_TOKENS_PER_SECOND, STANDIN_ANSWER_TOKENS), so that a load
test or a scale-in test has answers in flight. site.yml owns the units, not these drop-ins, so a
drift run does not see them; `clear` removes them."""

from __future__ import annotations

import time

from fleetlib.wiring import wired
from lab.podman import address, podman


def set_environment(host: str, unit: str, name: str, env: dict[str, str], url: str) -> None:
    """The unit on host runs with env once url answers again: a drop-in 50-lab-<name>.conf
    naming an environment file of its own (read after the unit's own, so it wins over both
    Environment= and the role's EnvironmentFile=); an empty value unsets a setting."""
    folder = f"/etc/systemd/system/{unit}.d"
    conf = f"[Service]\nEnvironmentFile={folder}/50-lab-{name}.env\n"
    values = "".join(f"{k}={v}\n" for k, v in env.items())
    for path, text in (
        (f"{folder}/50-lab-{name}.env", values),
        (f"{folder}/50-lab-{name}.conf", conf),
    ):
        podman("exec", "-i", host, "sh", "-c", f"mkdir -p {folder} && cat > {path}",
               input_bytes=text.encode())  # fmt: skip
    restart(host, unit, url)


def clear(host: str, unit: str, name: str, url: str) -> None:
    """The unit as site.yml configures it."""
    folder = f"/etc/systemd/system/{unit}.d"
    podman("exec", host, "rm", "-f", f"{folder}/50-lab-{name}.conf", f"{folder}/50-lab-{name}.env")
    restart(host, unit, url)


def restart(host: str, unit: str, url: str) -> None:
    podman("exec", host, "sh", "-c", f"systemctl daemon-reload && systemctl restart {unit}")
    wait_answers(host, unit, url)


def wait_answers(host: str, unit: str, url: str, timeout: float = 240.0) -> None:
    """Until url answers from inside host (unit: the service named in the error)."""
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=3); print('up')"
    deadline = time.monotonic() + timeout
    while podman("exec", host, "python3", "-c", probe, check=False).strip() != "up":
        if time.monotonic() > deadline:
            raise SystemExit(f"{unit} on {host} did not answer {url} within {timeout:.0f}s")
        time.sleep(0.5)


def ollama_url() -> str:
    return f"http://127.0.0.1:{wired('ollama_port')}/api/version"


def open_webui_url(host: str) -> str:
    return f"http://{address(host)}:{wired('open_webui_port')}/health"


def pace(host: str, tokens_per_second: float, answer_tokens: int, slots: int = 0) -> None:
    """The stand-in on host streams answer_tokens-token answers at tokens_per_second; slots > 0:
    that many at once (OLLAMA_NUM_PARALLEL, as many waiting) instead of the host's own."""
    env = {"STANDIN_TOKENS_PER_SECOND": f"{tokens_per_second:g}",
           "STANDIN_ANSWER_TOKENS": str(answer_tokens)}  # fmt: skip
    if slots:
        env |= {"OLLAMA_NUM_PARALLEL": str(slots), "OLLAMA_MAX_QUEUE": str(slots)}
    set_environment(host, "ollama.service", "pace", env, ollama_url())


def unpace(host: str) -> None:
    """The stand-in as site.yml configures it (answers at once)."""
    clear(host, "ollama.service", "pace", ollama_url())
