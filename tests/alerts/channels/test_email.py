"""The email channel against a real SMTP server on loopback (aiosmtpd): plain, STARTTLS with
login, implicit TLS; certificates verified; every failure a clear DeliveryError."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cronwatch.alerts.channels import DeliveryError, build_channel
from cronwatch.alerts.model import Details, Event
from cronwatch.specs import ChannelSpec, ServerSpec
from tests.support.alerting import write_config
from tests.support.receivers import SmtpReceiver

EVENT = Event(
    name="backup",
    hostname="",
    kind="problem",
    old_status="ok",
    new_status="missing",
    reason="backup didn't run on db2 since 03:00 UTC",
    at=datetime(2026, 11, 28, 3, 31, tzinfo=UTC),
    text="backup is MISSING: backup didn't run on db2 since 03:00 UTC",
    id=7,
    incident="cw-0123456789abcdef0123",
    since=datetime(2026, 11, 28, 3, 1, tzinfo=UTC),
    details=Details(
        hosts=(("db2", "missing"),),
        last_host="db1",
        exit_code=3,
        last_completed=datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        output_tail="rsync: connection refused\n<b>giving up</b>",
        tags=("db",),
    ),
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command line)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    return context


class Logins:
    """An aiosmtpd authenticator accepting one user, remembering every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        login, password = data.login.decode(), data.password.decode()
        ok = (login, password) == ("cronwatch", "s3cret")
        self.attempts.append((login, password, session.ssl is not None))
        return AuthResult(success=ok, handled=False)


def mail_channel(tmp_path: Path, port: int, extra: str = "") -> ChannelSpec:
    config = write_config(
        tmp_path,
        f'[channels.mail]\ntype = "email"\nto = ["ops@example.com", "dba@example.com"]\n'
        f'host = "127.0.0.1"\nport = {port}\nfrom = "cronwatch@example.com"\ntimeout = "5s"\n'
        + extra,
    )
    return config.channels["mail"]


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[SmtpReceiver, Logins]]:
    logins = Logins()
    server = SmtpReceiver(
        tls_context=server_context(certificate),
        require_starttls=True,
        auth_require_tls=True,
        authenticator=logins,
    )
    server.start()
    yield server, logins
    server.stop()


def test_plain_smtp_message(tmp_path: Path, smtp_receiver: SmtpReceiver) -> None:
    server = ServerSpec(public_url="https://cron.example.com")
    build_channel(mail_channel(tmp_path, smtp_receiver.port), server).send(EVENT)
    (message,) = smtp_receiver.messages
    assert message["Subject"] == EVENT.text
    assert message["From"] == "cronwatch@example.com"
    assert message["To"] == "ops@example.com, dba@example.com"
    assert message["X-Cronwatch-Incident"] == "cw-0123456789abcdef0123"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    content = plain.get_content().replace("\r\n", "\n")
    assert content.splitlines() == [
        EVENT.text,
        "",
        "Job:       backup",
        "Hosts:     db2 (missing)",
        "Since:     2026-11-28 03:01 UTC (30m ago)",
        "Last run:  exit code 3 on db1, 2026-11-28 03:00 UTC",
        "Tags:      db",
        "Incident:  cw-0123456789abcdef0123",
        "Job page:  https://cron.example.com/jobs/backup",
        "Output (last lines):",
        "    rsync: connection refused",
        "    <b>giving up</b>",
    ]
    markup = html.get_content().replace("\r\n", "\n")
    # The same facts, escaped: the output cannot inject markup into the mail.
    assert "<pre>rsync: connection refused\n&lt;b&gt;giving up&lt;/b&gt;</pre>" in markup
    assert '<a href="https://cron.example.com/jobs/backup">' in markup
    assert "<b>giving up</b>" not in markup
    assert smtp_receiver.envelopes == [
        ("cronwatch@example.com", ["ops@example.com", "dba@example.com"])
    ]


def test_starttls_and_login(
    tmp_path: Path,
    certificate: tuple[Path, Path],
    starttls_server: tuple[SmtpReceiver, Logins],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, logins = starttls_server
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    spec = mail_channel(
        tmp_path,
        server.port,
        f'starttls = true\nusername = "cronwatch"\npassword_env = "SMTP_PASSWORD"\n'
        f'ca_file = "{certificate[0]}"\n',
    )
    build_channel(spec).send(EVENT)
    assert logins.attempts == [("cronwatch", "s3cret", True)]  # logged in over TLS only
    assert [str(m["Subject"]) for m in server.messages] == [EVENT.text]


def test_wrong_password_is_a_delivery_error(
    tmp_path: Path, certificate: tuple[Path, Path], starttls_server: tuple[SmtpReceiver, Logins]
) -> None:
    server, _ = starttls_server
    tls = f'starttls = true\nca_file = "{certificate[0]}"\n'
    spec = mail_channel(tmp_path, server.port, tls + 'username = "cronwatch"\npassword = "nope"\n')
    with pytest.raises(DeliveryError, match=rf"^SMTP 127\.0\.0\.1:{server.port}: 535 "):
        build_channel(spec).send(EVENT)
    assert server.messages == []


def test_a_server_that_requires_starttls_refuses_a_plain_sender(
    tmp_path: Path, starttls_server: tuple[SmtpReceiver, Logins]
) -> None:
    server, _ = starttls_server
    with pytest.raises(DeliveryError, match=r"530 Must issue a STARTTLS command first"):
        build_channel(mail_channel(tmp_path, server.port)).send(EVENT)
    assert server.messages == []


def test_starttls_refused_when_the_server_does_not_offer_it(
    tmp_path: Path, smtp_receiver: SmtpReceiver
) -> None:
    spec = mail_channel(tmp_path, smtp_receiver.port, "starttls = true\n")
    with pytest.raises(DeliveryError, match="STARTTLS extension not supported by server"):
        build_channel(spec).send(EVENT)
    assert smtp_receiver.messages == []  # never sent in the clear instead


def test_an_untrusted_certificate_is_refused(
    tmp_path: Path, starttls_server: tuple[SmtpReceiver, Logins]
) -> None:
    server, logins = starttls_server
    login = 'username = "cronwatch"\npassword = "s3cret"\n'
    spec = mail_channel(tmp_path, server.port, "starttls = true\n" + login)
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        build_channel(spec).send(EVENT)
    assert logins.attempts == [] and server.messages == []  # the password never left


def test_implicit_tls(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    server = SmtpReceiver(ssl_context=server_context(certificate))
    server.start()
    try:
        spec = mail_channel(tmp_path, server.port, f'ssl = true\nca_file = "{certificate[0]}"\n')
        build_channel(spec).send(EVENT)
    finally:
        server.stop()
    assert [str(m["Subject"]) for m in server.messages] == [EVENT.text]


def test_missing_password_variable(tmp_path: Path, smtp_receiver: SmtpReceiver) -> None:
    login = 'username = "u"\npassword_env = "CRONWATCH_NO_SUCH_VARIABLE"\n'
    spec = mail_channel(tmp_path, smtp_receiver.port, login)
    with pytest.raises(DeliveryError, match=r"CRONWATCH_NO_SUCH_VARIABLE \(password_env\) is not"):
        build_channel(spec).send(EVENT)


def test_long_subjects_are_cut(tmp_path: Path, smtp_receiver: SmtpReceiver) -> None:
    from dataclasses import replace

    build_channel(mail_channel(tmp_path, smtp_receiver.port)).send(replace(EVENT, text="x" * 500))
    (message,) = smtp_receiver.messages
    assert str(message["Subject"]) == "x" * 197 + "..."
