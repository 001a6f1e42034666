"""Start and stop the sandbox: both HTTPS servers in one process, over one persisted world.

``Sandbox(...).start()`` is what ``o2c sandbox serve``, the test fixtures and the benchmarks all
use; ``credentials()`` is the set of settings the pipeline reads (the same variable names a real
deployment sets), so the pipeline never learns it is talking to the sandbox.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from o2c_sandbox.core import Counters, Knobs, SandboxApp, SandboxContext, Store
from o2c_sandbox.schema import Credentials

log = logging.getLogger(__name__)

DEFAULT_SF_PORT = 47443
DEFAULT_NS_PORT = 47444
DEFAULT_HOST = "127.0.0.1"
SF_API_VERSION = "62.0"


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log: the admin counters are the record of calls."""

    def log_request(self, *args, **kwargs) -> None:  # noqa: D401
        pass

    def setup(self) -> None:
        # werkzeug writes status, headers and body in separate sends; with Nagle's algorithm and
        # delayed ACKs that adds ~15 ms to every response on loopback
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_error(self, *args, **kwargs) -> None:
        pass


def _state_file(name: str | Callable[[Sandbox], str]) -> property:
    """A file of the state directory as a read-only ``Path`` attribute of the sandbox; ``name``
    may depend on the sandbox (its credentials name the NetSuite key files)."""
    return property(lambda box: box.state_dir / (name if isinstance(name, str) else name(box)))


@dataclass
class Sandbox:
    state_dir: Path
    scale: str = "small"
    seed: int = 42
    host: str = DEFAULT_HOST
    sf_port: int = DEFAULT_SF_PORT
    ns_port: int = DEFAULT_NS_PORT
    knobs: Knobs = field(default_factory=Knobs)
    credentials_: Credentials = field(default_factory=Credentials)
    rebuild: bool = False

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self._servers: list[BaseWSGIServer] = []
        self._threads: list[threading.Thread] = []
        self.ctx: SandboxContext | None = None

    # -- paths ---------------------------------------------------------------------------------
    ca_path = _state_file("ca.pem")
    server_pem_path = _state_file("server.pem")
    jwt_key_path = _state_file("jwt_private_key.pem")
    jwt_cert_path = _state_file("jwt_cert.pem")
    ns_m2m_key_path = _state_file(lambda box: box.credentials_.ns_private_key_file)
    ns_m2m_cert_path = _state_file(lambda box: box.credentials_.ns_certificate_file)
    world_path = _state_file("world.duckdb")

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Sandbox:
        from o2c_sandbox.netsuite.api import NetSuiteService
        from o2c_sandbox.salesforce.api import SalesforceService
        from o2c_sandbox.schema import schema_fingerprint
        from o2c_sandbox.simulator import advance
        from o2c_sandbox.world import build_world

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_tls()
        self._ensure_jwt_keys()
        if self.rebuild and self.world_path.exists():
            self.world_path.unlink()
        store = Store(self.world_path)
        if (
            store.get_meta("built_at") is not None
            and store.get_meta("schema") != schema_fingerprint()
        ):
            log.info("the saved world predates the current schema: rebuilding it")
            store.close()
            self.world_path.unlink()
            store = Store(self.world_path)
        if store.get_meta("built_at") is None:
            log.info("building the %s world (seed %s)", self.scale, self.seed)
            build_world(store, scale=self.scale, seed=self.seed)
        self.ctx = SandboxContext(
            store=store,
            knobs=self.knobs,
            counters=Counters(),
            state_dir=self.state_dir,
            credentials=self.credentials_,
            jwt_cert_path=self.jwt_cert_path,
        )
        self.ctx.advance = lambda steps: advance(store, steps=steps)

        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(str(self.server_pem_path))
        services = [(SalesforceService, self.sf_port), (NetSuiteService, self.ns_port)]
        urls: dict[str, str] = {}
        self.ctx.urls = urls
        for service_cls, port in services:
            service = service_cls(self.ctx)
            server = make_server(
                self.host,
                port,
                SandboxApp(service),
                threaded=True,
                request_handler=_QuietHandler,
                ssl_context=ssl_ctx,
            )
            server.daemon_threads = True
            actual_port = server.server_address[1]
            urls[service.system] = f"https://{self.host}:{actual_port}"
            thread = threading.Thread(
                target=server.serve_forever, name=f"sandbox-{service.system}", daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self.ctx is not None:
            self.ctx.store.checkpoint()
            self.ctx.store.close()
            self.ctx = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def sf_url(self) -> str:
        assert self.ctx and self.ctx.urls
        return self.ctx.urls["salesforce"]

    @property
    def ns_url(self) -> str:
        assert self.ctx and self.ctx.urls
        return self.ctx.urls["netsuite"]

    # -- what the pipeline reads ---------------------------------------------------------------
    def credentials(self) -> dict[str, str]:
        """Environment settings for the pipeline: the same names a real deployment sets."""
        c = self.credentials_
        return credentials_env(
            c,
            sf_url=self.sf_url,
            ns_url=self.ns_url,
            ca_bundle=self.ca_path,
            jwt_key=self.jwt_key_path,
            ns_private_key=self.ns_m2m_key_path,
        )

    # -- key material --------------------------------------------------------------------------
    def _ensure_tls(self) -> None:
        if self.ca_path.exists() and self.server_pem_path.exists():
            return
        ca = trustme.CA(organization_name="o2c_pipeline sandbox")
        leaf = ca.issue_cert("127.0.0.1", "localhost", "::1")
        ca.cert_pem.write_to_path(str(self.ca_path))
        leaf.private_key_and_cert_chain_pem.write_to_path(str(self.server_pem_path))

    def _ensure_jwt_keys(self) -> None:
        """The integrations' private keys and the certificates registered for them: Salesforce's
        connected app (JWT bearer flow), NetSuite's OAuth 2.0 client credentials mapping (RSA of
        3072 bits and at most two years' validity, as NetSuite requires), and the key NetSuite
        signs its access tokens with."""
        from o2c_sandbox.netsuite.oauth2 import TOKEN_SIGNING_KEY_FILE

        _ensure_key_pair(
            self.jwt_key_path,
            self.jwt_cert_path,
            "o2c-sandbox-connected-app",
            key_size=2048,
            valid_days=3650,
        )
        _ensure_key_pair(
            self.ns_m2m_key_path,
            self.ns_m2m_cert_path,
            "o2c-sandbox-netsuite-m2m",
            key_size=3072,
            valid_days=730,
        )
        _ensure_key_pair(self.state_dir / TOKEN_SIGNING_KEY_FILE, None, "", key_size=2048)


def _ensure_key_pair(
    key_path: Path, cert_path: Path | None, common_name: str, *, key_size: int, valid_days: int = 0
) -> None:
    """An RSA private key (PKCS#8 PEM, owner-only) and its self-signed certificate, unless both
    files exist already."""
    if key_path.exists() and (cert_path is None or cert_path.exists()):
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    if cert_path is None:
        return
    cert = self_signed_certificate(key, common_name, valid_days)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def self_signed_certificate(
    key: rsa.RSAPrivateKey, common_name: str, valid_days: int
) -> x509.Certificate:
    """A certificate for ``key``, issued by itself, valid from a day ago for ``valid_days``."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )


def credentials_env(
    c: Credentials,
    *,
    sf_url: str,
    ns_url: str,
    ca_bundle: Path,
    jwt_key: Path,
    ns_private_key: Path,
) -> dict[str, str]:
    """Both NetSuite credential sets are given: TBA (the default flow) and OAuth 2.0 client
    credentials, chosen with NETSUITE_AUTH_FLOW=tba|oauth2_m2m."""
    return {
        "SALESFORCE_LOGIN_URL": sf_url,
        "SALESFORCE_AUTH_FLOW": "jwt",
        "SALESFORCE_CLIENT_ID": c.sf_client_id,
        "SALESFORCE_CLIENT_SECRET": c.sf_client_secret,
        "SALESFORCE_USERNAME": c.sf_username,
        "SALESFORCE_PASSWORD": c.sf_password,
        "SALESFORCE_PRIVATE_KEY_FILE": str(jwt_key),
        "SALESFORCE_API_VERSION": SF_API_VERSION,
        "NETSUITE_ACCOUNT_ID": c.ns_account_id,
        "NETSUITE_BASE_URL": ns_url,
        "NETSUITE_CONSUMER_KEY": c.ns_consumer_key,
        "NETSUITE_CONSUMER_SECRET": c.ns_consumer_secret,
        "NETSUITE_TOKEN_ID": c.ns_token_id,
        "NETSUITE_TOKEN_SECRET": c.ns_token_secret,
        "NETSUITE_AUTH_FLOW": "tba",
        "NETSUITE_CLIENT_ID": c.ns_client_id,
        "NETSUITE_CERTIFICATE_ID": c.ns_certificate_id,
        "NETSUITE_PRIVATE_KEY_FILE": str(ns_private_key),
        "O2C_CA_BUNDLE": str(ca_bundle),
    }
