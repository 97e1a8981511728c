"""RSA key pairs for the sandbox Maskinporten: the replica's own signing key and client keys.

Keys are generated at start-up and never committed. A client key is written as an unencrypted
PKCS#8 PEM file (mode 0600) that `flytt`'s Maskinporten client reads via
`FLYTT_MASKINPORTEN_KEY_FILE`.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def new_private_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA private key (enough for RS256, fast to generate)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM bytes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bytes:
    """The public half as SubjectPublicKeyInfo PEM bytes."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_client_key(path: Path) -> bytes:
    """Create a client key file at `path` unless one exists; return its public key PEM.

    An existing file is reused so that a running `flytt` and a restarted replica agree.

    Raises:
        ValueError: the existing file is not an unencrypted RSA private key PEM.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path.name} does not hold an RSA private key")
        return public_pem(key)
    key = new_private_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_pem(key))
    return public_pem(key)
