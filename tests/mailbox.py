"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for mail tests.

Plain, STARTTLS or implicit TLS with a self-signed certificate made here (``cryptography``), with
or without a login; it can refuse recipients (4xx or 5xx) to exercise retries.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "credguard"
PASSWORD = "s3cret-smtp-password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: str | None

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


@dataclass
class Inbox:
    """What the server received, and how it answers recipients."""

    received: list[Received] = field(default_factory=list)
    #: recipient → SMTP reply to RCPT, e.g. "450 4.2.1 try later" or "550 5.1.1 no such user".
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, login)
            )
        return "250 OK"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(item.message["Message-ID"]) for item in self.received]


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def smtp_server(
    *,
    port: int | None = None,
    security: str = "none",
    certificate: tuple[Path, Path] | None = None,
    login: bool = False,
    inbox: Inbox | None = None,
    smtputf8: bool = True,
) -> Iterator[tuple[int, Inbox]]:
    """An SMTP server on 127.0.0.1 for the ``with`` block: (its port, its inbox).

    ``security``: "none", "starttls" (required before anything else) or "tls" (implicit).
    ``login``: require AUTH with :data:`USERNAME` / :data:`PASSWORD`.
    ``smtputf8``: offer SMTPUTF8 (addresses that are not ASCII).
    """
    inbox = inbox or Inbox()
    port = port or free_port()
    context = None
    if security != "none":
        assert certificate is not None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*certificate)
    kwargs: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
    if security == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif security == "tls":
        kwargs.update(ssl_context=context)
    if login:
        kwargs.update(authenticator=_authenticator, auth_required=True)
        # With implicit TLS aiosmtpd does not see the encryption (the socket does it): it would
        # hide AUTH if it required TLS.
        kwargs["auth_require_tls"] = security == "starttls"
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
