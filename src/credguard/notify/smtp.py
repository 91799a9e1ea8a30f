"""Sending one message through the configured SMTP server (``smtplib``, nothing else).

:class:`Mailer` keeps one connection open for a delivery run and opens it on first use: plain,
upgraded with STARTTLS, or implicit TLS, verifying the server's certificate (against the system's
CAs or ``CREDGUARD_SMTP_CA_FILE``), then logging in when a username is set.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType

from credguard.config import Settings


class ConnectionProblem(Exception):
    """The server could not be reached or refused us (not this message): try later, stop now."""


class ServerUnreachable(ConnectionProblem):
    """No session could be opened (connect, TLS, login): nothing about any one message."""


class PermanentRefusal(Exception):
    """The server refused this message for good (a 5xx to its recipient or its data)."""


class Mailer:
    """A connection to the SMTP server, opened lazily and kept across messages."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._smtp.close()
        self._smtp = None

    def send(self, message: EmailMessage) -> None:
        """Send ``message``; :class:`ConnectionProblem` or :class:`PermanentRefusal` otherwise.

        :class:`ServerUnreachable` (a :class:`ConnectionProblem`) when no session could be opened.
        """
        smtp = self._connection()
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentRefusal(describe(exc)) from None
            raise
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentRefusal(describe(exc)) from None
            raise
        except smtplib.SMTPNotSupportedError as exc:  # e.g. a non-ASCII address, no SMTPUTF8
            raise PermanentRefusal(describe(exc)) from None
        except OSError as exc:  # smtplib's errors are OSErrors: disconnected, sender refused…
            self._drop()
            raise ConnectionProblem(describe(exc)) from None
        if refused:  # only with several recipients; CredGuard sends to one
            raise PermanentRefusal(f"recipients refused: {sorted(refused)}")

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        settings = self.settings
        if not settings.smtp_host:
            raise ServerUnreachable("no SMTP server configured (CREDGUARD_SMTP_HOST)")
        context = ssl.create_default_context(
            cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
        )
        smtp: smtplib.SMTP
        try:
            if settings.smtp_security == "tls":
                smtp = smtplib.SMTP_SSL(
                    settings.smtp_host,
                    settings.smtp_port,
                    timeout=settings.smtp_timeout_seconds,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
                )
        except (smtplib.SMTPException, OSError) as exc:
            raise ServerUnreachable(describe(exc)) from None
        try:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=context)
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise ServerUnreachable(describe(exc)) from None
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None


def describe(exc: BaseException) -> str:
    """One line for ``lastError``: the exception's kind and what the server said."""
    if isinstance(exc, smtplib.SMTPResponseException):
        said = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return f"{type(exc).__name__}: {exc.smtp_code} {said}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        parts = [
            f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for code, reply in exc.recipients.values()
        ]
        return f"recipient refused: {'; '.join(parts)}"
    return f"{type(exc).__name__}: {exc}"
