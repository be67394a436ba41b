"""Mutual TLS for the federation's gRPC calls, and who is calling.

Both sides present a certificate from the federation's CA (``mpcrec pki`` makes a local one;
real deployments point at their own files). The launcher identifies the calling instance by
its certificate (:func:`mpcrec.crypto.pki.instance_id_of`), never by anything the caller says.
"""

from __future__ import annotations

import functools
from typing import Any

import grpc

from mpcrec.crypto.key_file import check_private
from mpcrec.crypto.pki import CertPaths, instance_id_of
from mpcrec.errors import ConfigError, UserError

# Generous limits: models and envelopes travel in chunks well below this.
MAX_MESSAGE = 64 * 1024 * 1024
CHUNK = 1024 * 1024
KEEPALIVE_MS = 10_000
"""How often a client pings an idle connection (so a dead launcher or peer is noticed)."""
GRPC_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.keepalive_time_ms", KEEPALIVE_MS),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # a server's side: accept the pings above. Its default (one per 5 min without data,
    # two strikes) answered every idle watch stream with GOAWAY "too_many_pings" after
    # about 40 s, which the node saw as "launcher unreachable (Too many pings)".
    ("grpc.http2.min_ping_interval_without_data_ms", KEEPALIVE_MS // 2),
]


def _read(paths: CertPaths) -> tuple[bytes, bytes, bytes]:
    check_private(paths.key)
    try:
        return paths.key.read_bytes(), paths.cert.read_bytes(), paths.ca.read_bytes()
    except OSError as err:
        raise ConfigError(
            f"cannot read a TLS file: {err}",
            hint="make a local CA and certificates with `mpcrec pki`, or fix the paths",
        ) from err


def server_credentials(paths: CertPaths) -> grpc.ServerCredentials:
    """Credentials for a server that requires a client certificate from the same CA."""
    key, cert, ca = _read(paths)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=True
    )


def channel_credentials(paths: CertPaths) -> grpc.ChannelCredentials:
    """Credentials for a client presenting its own certificate and trusting only the CA."""
    key, cert, ca = _read(paths)
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


def secure_channel(address: str, paths: CertPaths) -> grpc.Channel:
    """A mutual-TLS channel to ``address`` (``host:port``)."""
    return grpc.secure_channel(address, channel_credentials(paths), options=GRPC_OPTIONS)


def caller_id(context: grpc.ServicerContext) -> str:
    """The instance id of the certificate the caller presented ("" if none)."""
    pems = context.auth_context().get("x509_pem_cert") or []
    return _named_by(bytes(pems[0])) if pems else ""


@functools.lru_cache(maxsize=4096)
def _named_by(cert_pem: bytes) -> str:
    """The instance id ``cert_pem`` names ("" if none), parsed once per certificate: a
    launcher is called a dozen times a round by each of a thousand instances."""
    try:
        return instance_id_of(cert_pem)
    except (UserError, ValueError):  # an unreadable certificate names nobody
        return ""
