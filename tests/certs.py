"""Throwaway certificates for the TLS tests: a CA, a server cert for 127.0.0.1/localhost and a
controller's client cert, written as PEM files (made by ``trustme``, never reused)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA nobody here trusts: a client pinned to it must refuse the node


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="pyrostage test CA")
    server = ca.issue_cert("127.0.0.1", "localhost", common_name="pyrostage node")
    client = ca.issue_cert("controller.pyrostage.test", common_name="pyrostage controller")
    certs = Certs(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.pem",
    )
    ca.cert_pem.write_to_path(str(certs.ca))
    server.cert_chain_pems[0].write_to_path(str(certs.server_cert))
    server.private_key_pem.write_to_path(str(certs.server_key))
    client.cert_chain_pems[0].write_to_path(str(certs.client_cert))
    client.private_key_pem.write_to_path(str(certs.client_key))
    trustme.CA().cert_pem.write_to_path(str(certs.other_ca))
    return certs
