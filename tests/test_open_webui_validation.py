"""A bad open_webui shared-state setting stops the play at the role's first checks, naming it,
before any user, folder, package or database task runs (the play targets the controller in
check mode, so nothing here could change even if the checks let it through)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import refused_before_any_change

SHARED = "postgresql+psycopg://open_webui:Secret0123@db.internal:5432/openwebui?sslmode=require"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        # A shared database without the fleet's key: each host would sign its own sessions.
        ({"open_webui_database_url": SHARED}, "needs the fleet's open_webui_secret_key"),
        (
            {
                "open_webui_database_url": "mysql://u:p@db/openwebui",
                "open_webui_secret_key": "k",
                "open_webui_admin_password": "p",
            },
            "A shared database (open_webui_database_url) is postgresql+psycopg://",
        ),
        (
            {
                "open_webui_database_url": SHARED.replace("Secret0123", "p@ss/word"),
                "open_webui_secret_key": "k",
                "open_webui_admin_password": "p",
            },
            "with a URL-safe password",
        ),
    ],
)
def test_a_bad_shared_state_setting_is_refused_before_any_change(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    output = refused_before_any_change(tmp_path, "open_webui", variables, message)
    assert "Create the application's database user" not in output
    assert "Secret0123" not in output, "a password leaked"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"fleet_documents_chunk_overlap": 250}, "open_webui_chunk_overlap (1000) below it"),
        ({"open_webui_rag_top_k": 0}, "open_webui_rag_top_k (0) and"),
        ({"open_webui_answer_max_tokens": 0}, "open_webui_answer_max_tokens (0) are 1 or more"),
    ],
)
def test_a_bad_document_search_setting_is_refused_by_name(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    refused_before_any_change(tmp_path, "open_webui", variables, message)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"fleet_answer_min_tokens_per_second": 0}, "fleet_answer_min_tokens_per_second (0)"),
        ({"fleet_answer_max_tokens": 0}, "fleet_answer_max_tokens (0) and"),
        ({"fleet_answer_max_tokens": 100000}, "at most 3600 s"),
    ],
    ids=["no rate", "no cap", "a drain the load balancer cannot wait"],
)
def test_a_bad_answer_length_cap_is_refused_by_the_wiring(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    """The cap every drain is derived from is checked where it is defined (the wiring), before
    any role runs."""
    output = refused_before_any_change(tmp_path, "open_webui", variables, message)
    assert "Check the answer length cap the drains are derived from" in output


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        # No expiry at all ("-1"): a person who leaves would keep a session for ever.
        (
            {"open_webui_session_lifetime": "-1"},
            'a number of 1 or more and a unit (30m, 8h, 1d; got "-1")',
        ),
        (
            {
                "open_webui_oidc_issuer": "http://login.example.com",
                "open_webui_oidc_client_id": "fleet",
                "open_webui_oidc_client_secret": "Client0secret",
                "open_webui_url": "https://chat.example.com",
            },
            'With an identity provider (open_webui_oidc_issuer "http://login.example.com")',
        ),
        (
            {
                "open_webui_oidc_issuer": "http://10.89.42.12:4593/api/oidc",
                "open_webui_oidc_client_id": "fleet",
                "open_webui_oidc_client_secret": "Client0secret",
                "open_webui_oidc_user_groups": ["staff"],
                "open_webui_url": "https://chat.example.com",
            },
            "the issuer is an https URL (http only with",
        ),
        (
            {"open_webui_session_lifetime": "0h"},
            'a number of 1 or more and a unit (30m, 8h, 1d; got "0h")',
        ),
        (
            {
                "open_webui_oidc_issuer": "https://login.example.com",
                "open_webui_oidc_client_id": "fleet",
                "open_webui_oidc_client_secret": "Client0secret",
                "open_webui_oidc_user_groups": ["staff"],
                "open_webui_oidc_admin_groups": ["*"],
                "open_webui_url": "https://chat.example.com",
            },
            "administer the fleet through the provider (got ['*']",
        ),
    ],
    ids=[
        "a session that never ends",
        "an http issuer and no group",
        "an http issuer on a private address",
        "a session that ends at once",
        "no admin group",
    ],
)
def test_a_bad_single_sign_on_setting_is_refused_by_name(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    output = refused_before_any_change(tmp_path, "open_webui", variables, message)
    assert "Client0secret" not in output, "the client secret leaked"


SSO = {
    "open_webui_oidc_issuer": "https://login.example.com",
    "open_webui_oidc_client_id": "fleet",
    "open_webui_oidc_client_secret": "Client0secret",
    "open_webui_url": "https://chat.example.com",
    "open_webui_oidc_user_groups": ["staff"],
    "open_webui_oidc_admin_groups": ["llm-admins"],
}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"open_webui_capacity": 0}, "open_webui: open_webui_capacity (0) and"),
        ({"open_webui_capacity": "lots"}, "open_webui_capacity"),
        ({"open_webui_keep_alive_seconds": 0}, "open_webui_keep_alive_seconds (0) is 1 or"),
        ({"open_webui_keep_alive_seconds": "long"}, "open_webui_keep_alive_seconds"),
        (
            {"open_webui_person_limit": {"concurrent": -1, "per_minute": 30}},
            "open_webui_person_limit.concurrent: -1",
        ),
        (
            {**SSO, "open_webui_group_limits": {"staff": {"concurrent": 2, "per_minute": "x"}}},
            "open_webui_group_limits.staff.per_minute: x",
        ),
        (
            {**SSO, "open_webui_group_limits": {"robots": {"concurrent": 20, "per_minute": 600}}},
            "not ['robots']",
        ),
        (
            {"open_webui_workers": "two"},
            "open_webui_workers is auto or a whole number of 1 or more (got two)",
        ),
        ({"open_webui_workers": 0}, "a whole number of 1 or more (got 0)"),
        ({"open_webui_workers": 2}, "more than one worker (2) needs the shared Redis"),
        (
            {"open_webui_workers": 1, "open_webui_capacity": 41},
            "the capacity at most what the host's 1 worker(s) carry within the first-token bound",
        ),
    ],
    ids=[
        "no capacity",
        "a capacity that is not a number",
        "no keep-alive",
        "a keep-alive that is not a number",
        "a negative limit",
        "a limit that is not a number",
        "a group that does not exist",
        "workers not a number",
        "no workers",
        "two workers without Redis",
        "capacity above the sizing",
    ],
)
def test_a_bad_limit_keep_alive_or_worker_count_is_refused_by_name(
    tmp_path: Path, variables: dict[str, object], message: str
) -> None:
    refused_before_any_change(tmp_path, "open_webui", variables, message)
