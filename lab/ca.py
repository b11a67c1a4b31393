"""The lab's own certificate authority: made once per lab (`lab up`) under .lab/ca/, it signs
the identity provider's certificate, and every lab host trusts it as the fleet trusts an
organisation's private CA (the trusted_ca_bundle state parameter); the test browser trusts it
too. Its key never leaves the controller."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.config import STATE_DIR

CA_DIR = STATE_DIR / "ca"
CA_CERT = CA_DIR / "ca.crt"
CA_KEY = CA_DIR / "ca.key"
CA_NAME = "llm-fleet lab CA"
# Long enough for any lab's life; the leaf certificates it signs last as long.
VALID_DAYS = 365


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(b"")
    path.chmod(0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def ensure_ca() -> str:
    """The lab CA's certificate (PEM), made on first use and kept for the lab's life."""
    if CA_CERT.exists() and CA_KEY.exists():
        return CA_CERT.read_text()
    CA_DIR.mkdir(parents=True, exist_ok=True)
    CA_DIR.chmod(0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(CA_KEY, key)
    CA_CERT.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CA_CERT.read_text()


def issue(name: str, address: str) -> tuple[Path, Path]:
    """A server certificate for a lab host (its name and address as subject alternative names),
    signed by the lab CA: (key path, certificate path) under .lab/ca/, made once."""
    key_path, cert_path = CA_DIR / f"{name}.key", CA_DIR / f"{name}.crt"
    if key_path.exists() and cert_path.exists():
        return key_path, cert_path
    ensure_ca()
    ca_key = serialization.load_pem_private_key(CA_KEY.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise RuntimeError(f"{CA_KEY} is not the lab CA's EC key")
    ca_cert = x509.load_pem_x509_certificate(CA_CERT.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(minutes=5))
        .not_valid_after(_now() + datetime.timedelta(days=VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address(address))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
