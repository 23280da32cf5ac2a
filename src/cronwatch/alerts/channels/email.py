"""Email channel: one message per event over SMTP (smtplib; the sender is a sync worker).

Options (``[channels.NAME]``, ``type = "email"``): ``to`` (addresses), ``host`` (default
``localhost``), ``port`` (25, or 465 with ``ssl``), ``from`` (default ``cronwatch@<this
host>``), ``starttls`` (upgrade the connection with STARTTLS before anything else is said;
refused if the server does not offer it), ``ssl`` (TLS from the first byte), ``username`` with
``password`` or ``password_env`` (the name of an environment variable holding it), ``ca_file``
(CA certificates to trust besides the system's), ``timeout`` (10 s).

The subject is the event's one line; the body is the message's plain text (the facts: hosts,
since when, the last run's exit code and output, the job's page) with a short HTML part. TLS
certificates are always verified: an alert channel that anyone on the path could read or change
is not one.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import cast

from cronwatch.alerts.channels.base import DeliveryError, message_for, timeout_of
from cronwatch.alerts.messages import Message
from cronwatch.alerts.model import Event
from cronwatch.specs import ChannelSpec, ServerSpec

log = logging.getLogger("cronwatch.alerts")

#: A longer subject is cut: mail clients show one line.
MAX_SUBJECT = 200


def compose(message: Message, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """The email for ``message``: the subject is its one line, the body its plain text with a
    short HTML alternative (``multipart/alternative``)."""
    event = message.event
    email = EmailMessage()
    email["Subject"] = (
        event.text if len(event.text) <= MAX_SUBJECT else event.text[: MAX_SUBJECT - 3] + "..."
    )
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(event.at.timestamp())
    email["Message-ID"] = make_msgid("cronwatch")
    if event.incident:
        # Mail clients thread a problem, its reminders and its recovery together.
        email["X-Cronwatch-Incident"] = event.incident
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email


class EmailChannel:
    """Sends each event as one email."""

    def __init__(self, spec: ChannelSpec, server: ServerSpec | None = None) -> None:
        options = spec.options
        self.name = spec.name
        self.server = server or ServerSpec()
        self.to = cast(tuple[str, ...], options["to"])
        self.host = str(options.get("host", "localhost"))
        self.ssl = bool(options.get("ssl", False))
        self.starttls = bool(options.get("starttls", False))
        port = options.get("port")
        self.port = int(port) if isinstance(port, int) else (465 if self.ssl else 25)
        self.sender = str(options.get("from") or f"cronwatch@{socket.gethostname()}")
        self.username = options.get("username")
        self.password = options.get("password")
        self.password_env = options.get("password_env")
        self.ca_file = options.get("ca_file")
        self.timeout = timeout_of(spec)

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if isinstance(self.ca_file, str):
            context.load_verify_locations(cafile=self.ca_file)
        return context

    def _password(self) -> str:
        if isinstance(self.password_env, str):
            value = os.environ.get(self.password_env)
            if value is None:
                raise DeliveryError(
                    f"environment variable {self.password_env} (password_env) is not set"
                )
            return value
        return str(self.password)

    def send(self, event: Event) -> None:
        message = compose(message_for(event, self.server), self.sender, self.to)
        timeout = self.timeout.total_seconds()
        where = f"{self.host}:{self.port}"
        try:
            if self.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
            with smtp:
                if self.starttls:
                    smtp.starttls(context=self._context())
                if self.username is not None:
                    smtp.login(str(self.username), self._password())
                refused = smtp.send_message(message)
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP {where}: {_smtp_error(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"SMTP {where}: {exc.strerror or exc}") from None
        if refused:
            # Some recipients were accepted (had none been, smtplib would have raised): the
            # message is delivered, and a retry would repeat it to them.
            listed = ", ".join(f"{addr} ({code})" for addr, (code, _) in refused.items())
            log.warning("channel %s: %s refused %s; sent to the others", self.name, where, listed)


def _smtp_error(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__
