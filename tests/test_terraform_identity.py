"""terraform/ for single sign-on: the issuer and client ID published where fleet_wiring reads them
(only when set), the client's secret, the session key and SCIM's token among the fleet's secrets,
SCIM open at the load balancer to the identity provider's ranges only, and the option of a
Cognito user pool of the fleet's own."""

from __future__ import annotations

from fleetlib.wiring import wired, wired_file
from tests.hcl import load


def test_sso_settings_are_published_only_when_the_fleet_has_a_provider() -> None:
    config = load()
    identity = config.one("aws_ssm_parameter", "identity")
    assert identity.module == "modules/state"
    body = identity.body
    # Both or none, under the path fleet_wiring reads (/<prefix>/state/); the trusted CA when set.
    assert body["for_each"].startswith("${merge(var.identity.enabled ? {")
    assert 'var.trusted_ca_bundle != "" ? {trusted_ca_bundle = var' in body["for_each"]
    assert body["name"] == "/${local.prefix}/state/${each.key}"
    assert body["type"] == "SecureString" and body["key_id"] == "${var.kms_key_arn}"
    assert config.modules["state"]["identity"] == "${local.identity}"
    # The organisation's issuer, or the fleet's own Cognito pool's.
    identity = config.locals[".:identity"]
    assert "module.identity[0].issuer" in identity and "var.identity_issuer" in identity
    # The names fleet_wiring's open_webui.yml reads them under.
    wiring = wired_file("open_webui")
    assert "fleet_state.identity_issuer" in wiring["open_webui_oidc_issuer"]
    assert "fleet_state.identity_client_id" in wiring["open_webui_oidc_client_id"]
    assert config.modules["state"]["trusted_ca_bundle"] == "${var.trusted_ca_bundle}"
    trusted = wired_file("fleet_state")["fleet_state_trusted_ca_bundle"]
    assert "fleet_state.trusted_ca_bundle" in trusted
    # Optional: not among the parameters every fleet must have.
    optional = {"identity_issuer", "identity_client_id", "trusted_ca_bundle"}
    assert not optional & set(wired("fleet_state_parameters"))


def test_sso_secrets_are_the_fleets_secrets() -> None:
    names = wired("fleet_state_secret_names")
    assert names["oidc_client_secret"] == "oidc-client-secret"
    assert names["oauth_session_key"] == "oauth-session-key"
    assert names["scim_token"] == "scim-token"
    assert load().modules["state"]["secret_names"] == "${local.wiring.fleet_state_secret_names}"
    wiring = wired_file("open_webui")
    assert "fleet_secrets.oidc_client_secret" in wiring["open_webui_oidc_client_secret"]
    assert "fleet_secrets.scim_token" in wiring["open_webui_scim_token"]


def test_scim_is_forwarded_only_from_the_providers_ranges() -> None:
    config = load()
    forward = config.one("aws_lb_listener_rule", "scim_from_provider").body
    closed = config.one("aws_lb_listener_rule", "scim_closed").body
    assert forward["priority"] < closed["priority"]
    assert forward["count"] == "${length(var.scim_source_cidrs) > 0 ? 1 : 0}"
    conditions = {
        key: value for condition in forward["condition"] for key, value in condition.items()
    }
    assert conditions["path_pattern"][0]["values"] == ["/api/v1/scim/*"]
    assert conditions["source_ip"][0]["values"] == "${var.scim_source_cidrs}"
    assert forward["action"][0]["type"] == "forward"
    (action,) = closed["action"]
    assert (
        action["type"] == "fixed-response" and action["fixed_response"][0]["status_code"] == "403"
    )
    assert closed["condition"][0]["path_pattern"][0]["values"] == ["/api/v1/scim/*"]
    assert config.modules["load_balancer"]["scim_source_cidrs"] == "${var.scim_source_cidrs}"
    assert config.default("scim_source_cidrs") == []
    assert "0.0.0.0/0" in config.variables[".:scim_source_cidrs"]["validation"][0]["condition"]


def test_a_cognito_pool_is_an_option_with_the_fleets_client_and_groups() -> None:
    config = load()
    assert config.default("identity_cognito") is False
    call = config.modules["identity"]
    assert call["count"] == "${var.identity_cognito ? 1 : 0}"
    assert (
        call["callback_url"] == '${trimsuffix(module.load_balancer.url, "/")}/oauth/oidc/callback'
    )
    assert call["groups"] == "${var.identity_cognito_groups}"
    pool = config.one("aws_cognito_user_pool", "this").body
    assert pool["admin_create_user_config"][0]["allow_admin_create_user_only"] is True
    assert pool["mfa_configuration"] == "ON" and pool["deletion_protection"] == "ACTIVE"
    client = config.one("aws_cognito_user_pool_client", "fleet").body
    assert client["generate_secret"] is True and client["allowed_oauth_flows"] == ["code"]
    assert client["callback_urls"] == ["${var.callback_url}"]
    assert "implicit" not in str(client)
    assert config.one("aws_cognito_user_group", "this").body["for_each"] == "${toset(var.groups)}"
    assert config.one("aws_cognito_user_pool_domain", "this").module == "modules/identity"
    # Its client secret becomes the fleet's oidc-client-secret, never the drawn placeholder.
    state = config.modules["state"]
    assert state["identity_client_secret_managed"] == "${var.identity_cognito}"
    assert "module.identity[0].client_secret" in state["identity_client_secret"]
    written = config.one("aws_secretsmanager_secret_version", "oidc_client_secret").body
    assert written["secret_string"] == "${var.identity_client_secret}"
    assert written["count"] == "${var.identity_client_secret_managed ? 1 : 0}"
    drawn = config.locals["modules/state:drawn_secrets"]
    assert 'key == "oidc_client_secret"' in drawn
    validation = config.variables[".:identity_cognito"]["validation"][0]["condition"]
    assert "var.identity_issuer" in validation
