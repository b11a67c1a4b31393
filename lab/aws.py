"""The lab's stand-in for what terraform creates around the fleet's shared state, in the lab's
AWS API (moto): the secrets (generated once per lab, kept only in Secrets Manager), the SSM
parameters saying where the database, Redis, the uploads bucket and the vector store are, and the
uploads bucket. The fleet reads them exactly as it reads terraform's (fleet_wiring)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from fleetlib.wiring import wired
from lab.ca import ensure_ca
from lab.config import ENVIRONMENT_TAG, PROJECT_TAG, REGION, LabNetwork, identity_issuer, lab_var
from lab.ec2 import DUMMY_CREDENTIALS

# The state host's servers (Debian's PostgreSQL and Redis on their usual ports).
DATABASE_PORT = 5432
REDIS_PORT = 6379
DATABASE_NAME = "openwebui"
DATABASE_USER = "open_webui"
# RDS's own master secret (managed by RDS, rotating): the application never uses it; the
# database bootstrap does, to create the application's user and database.
DATABASE_MASTER_USER = "postgres"


def state_prefix() -> str:
    """The lab's fleet_state_prefix: <Project>/<Environment> tags, as in production."""
    return f"{PROJECT_TAG}/{ENVIRONMENT_TAG}"


def uploads_bucket() -> str:
    return f"{PROJECT_TAG}-{ENVIRONMENT_TAG}-uploads"


def releases_bucket() -> str:
    """terraform's release bucket: the releases (releases/<version>/) and the model mirror."""
    return f"{PROJECT_TAG}-{ENVIRONMENT_TAG}-releases"


def models_mirror() -> str:
    """Where the fleet's models are mirrored: beside the releases, as terraform publishes it."""
    return f"s3://{releases_bucket()}/models"


def master_secret_name() -> str:
    return f"{state_prefix()}/database-master"


def admin_password_secret() -> str:
    """The first admin's password, as terraform names the secret (<project>/<env>/...)."""
    names: dict[str, str] = wired("fleet_state_secret_names")
    return f"{state_prefix()}/{names['open_webui_admin_password']}"


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **DUMMY_CREDENTIALS)


def fleet_secret(endpoint: str, key: str) -> str:
    """One of the fleet's secrets (its key in fleet_state_secret_names), read from the lab's
    Secrets Manager as the hosts read it."""
    names: dict[str, str] = wired("fleet_state_secret_names")
    answer = client("secretsmanager", endpoint).get_secret_value(
        SecretId=f"{state_prefix()}/{names[key]}"
    )
    return str(answer["SecretString"])


def state_parameters(network: LabNetwork) -> dict[str, str]:
    """What terraform's aws_ssm_parameter.state publishes, with the lab's addresses: the state
    host for PostgreSQL and Redis, the load balancer host for the rag tier's Chroma."""
    return {
        "database_host": str(network.state_address),
        "database_port": str(DATABASE_PORT),
        "database_name": DATABASE_NAME,
        "database_user": DATABASE_USER,
        "database_master_secret": master_secret_name(),
        "redis_host": str(network.state_address),
        "redis_port": str(REDIS_PORT),
        "redis_tls": "false",
        "uploads_bucket": uploads_bucket(),
        "chroma_host": str(network.load_balancer_address),
        "chroma_port": str(wired("chroma_port")),
        "models_mirror": models_mirror(),
    }


def optional_parameters(network: LabNetwork) -> dict[str, str]:
    """What terraform publishes beside them when the fleet has an identity provider and trusts a
    private CA: the lab's provider (its issuer and the fleet's client ID there) and the lab's CA,
    which signed the provider's certificate."""
    return {
        "identity_issuer": identity_issuer(network),
        "identity_client_id": str(lab_var("lab_identity")["client_id"]),
        "trusted_ca_bundle": ensure_ca(),
    }


def create_shared_state(endpoint: str, network: LabNetwork) -> None:
    """Create the bucket, the secrets (each a fresh random value) and the parameters."""
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket=uploads_bucket())
    s3.create_bucket(Bucket=releases_bucket())
    s3.put_bucket_versioning(Bucket=uploads_bucket(), VersioningConfiguration={"Status": "Enabled"})
    secretsmanager = client("secretsmanager", endpoint)
    names: dict[str, str] = wired("fleet_state_secret_names")
    for name in names.values():
        secretsmanager.create_secret(
            Name=f"{state_prefix()}/{name}", SecretString=secrets.token_urlsafe(32)
        )
    secretsmanager.create_secret(
        Name=master_secret_name(),
        SecretString=json.dumps(
            {"username": DATABASE_MASTER_USER, "password": secrets.token_urlsafe(32)}
        ),
    )
    ssm = client("ssm", endpoint)
    expected: list[str] = wired("fleet_state_parameters")
    parameters = state_parameters(network)
    if sorted(parameters) != sorted(expected):
        raise RuntimeError(f"lab parameters {sorted(parameters)} != the wiring's {expected}")
    for key, value in {**parameters, **optional_parameters(network)}.items():
        ssm.put_parameter(Name=f"/{state_prefix()}/state/{key}", Value=value, Type="SecureString")
