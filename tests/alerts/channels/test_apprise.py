"""Apprise channels against real receivers on loopback: ``json://`` and ``form://`` to an HTTP
server, ``mailto://`` to aiosmtpd, and local stand-ins for three self-hosted services reached
by a custom host (Mattermost incoming webhook, Gotify, ntfy), each receiving the request its
API documents. Problem, reminder and recovery arrive as Apprise's failure, warning and success
with the message's title and body; a failure is retried and shown like any channel's."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from cronwatch.alerts.channels import DeliveryError, build_channel
from cronwatch.alerts.channels.apprise import with_incident
from cronwatch.alerts.messages import compose
from cronwatch.alerts.model import Event
from cronwatch.config import load_config
from cronwatch.errors import ConfigError
from cronwatch.monitor import Monitor
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from tests.support.alerting import T0, kinds, ran, timeline, write_config
from tests.support.paths import REPO
from tests.support.receivers import HttpReceiver, SmtpReceiver

SECONDS = timedelta(seconds=1)


def apprise_config(tmp_path: Path, *urls: str, extra: str = "") -> str:
    listed = ", ".join(f'"{url}"' for url in urls)
    return (
        '[jobs.backup]\nschedule = "*/5 * * * *"\ngrace = "1m"\nalerts = ["team"]\nrepeat = "10m"\n'
        '[server]\npublic_url = "https://cron.example.com"\n'
        f'[channels.team]\ntype = "apprise"\nurls = [{listed}]\ntimeout = "3s"\n{extra}'
    )


def problem(name: str = "backup") -> Event:
    return Event(
        name=name,
        hostname="",
        kind="problem",
        old_status="ok",
        new_status="failing",
        reason=f"{name} failed on db1 at 10:00 UTC (exit 2)",
        text=f"{name} is FAILING: {name} failed on db1 at 10:00 UTC (exit 2)",
        at=T0,
        incident="cw-00000000000000000001",
        since=T0,
    )


def test_json_problem_reminder_recovery_as_failure_warning_success(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, apprise_config(tmp_path, f"json://{http_receiver.address}/cw"))
    ran(monitor, "backup", timedelta(0), ok=False)
    summaries = timeline(db, config, range(0, 12), monitor=monitor)  # failing from 10:00
    summaries += timeline(db, config, range(15, 16), {15: [("backup", True)]}, monitor)
    assert kinds(summaries) == [(0, "problem", "backup"), (10, "reminder", "backup"),
                                (15, "recovery", "backup")]  # fmt: skip
    events: dict[str, Event] = {e.kind: e for e in AlertStore(db).events("backup") if e.notifies}
    received = [request.json() for request in http_receiver.requests]
    assert [r["type"] for r in received] == ["failure", "warning", "success"]
    url = "https://cron.example.com/jobs/backup"
    for body, kind in zip(received, ["problem", "reminder", "recovery"], strict=True):
        message = compose(events[kind], url)
        # Apprise's JSON: {"version", "title", "message", "attachments", "type"}.
        assert body == {
            "version": "1.0",
            "title": message.title,
            "message": message.text,
            "attachments": [],
            "type": body["type"],
        }
    assert {request.path for request in http_receiver.requests} == {"/cw"}
    assert received[0]["title"] == "backup is FAILING"
    assert received[1]["title"] == "backup is still MISSING"  # no run since the failed one
    assert received[2]["title"] == "backup recovered"
    assert f"Job page:  {url}" in received[0]["message"]
    assert "Last run:  exit code 1 on db1" in received[0]["message"]
    # One incident from the problem to its recovery.
    assert events["problem"].incident is not None
    assert events["problem"].incident == events["recovery"].incident
    assert f"Incident:  {events['problem'].incident}" in received[2]["message"]


def test_form_to_an_http_server(http_receiver: HttpReceiver, tmp_path: Path) -> None:
    config = write_config(tmp_path, apprise_config(tmp_path, f"form://{http_receiver.address}/f"))
    build_channel(config.channels["team"], config.server).send(problem())
    (request,) = http_receiver.requests
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    message = compose(problem(), "https://cron.example.com/jobs/backup")
    assert request.form() == {
        "version": ["1.0"],
        "title": [message.title],
        "message": [message.text],
        "type": ["failure"],
    }


def test_mailto_to_an_smtp_server(smtp_receiver: SmtpReceiver, tmp_path: Path) -> None:
    url = (
        f"mailto://127.0.0.1:{smtp_receiver.port}"
        "?from=cronwatch@example.com&to=ops@example.com&name=cronwatch"
    )
    config = write_config(tmp_path, apprise_config(tmp_path, url))
    build_channel(config.channels["team"], config.server).send(problem())
    (mail,) = smtp_receiver.messages
    assert smtp_receiver.envelopes[0][1] == ["ops@example.com"]
    assert mail["Subject"] == "backup is FAILING"
    body = mail.get_body(("plain", "html"))
    assert body is not None
    content = body.get_content()
    assert "backup is FAILING: backup failed on db1 at 10:00 UTC (exit 2)" in content
    assert "https://cron.example.com/jobs/backup" in content


def test_self_hosted_services_by_custom_host(http_receiver: HttpReceiver, tmp_path: Path) -> None:
    """Mattermost incoming webhook (POST /hooks/<key>, JSON with "text"), Gotify (POST /message,
    the app token in X-Gotify-Key, JSON title, message and priority), ntfy (publish as JSON:
    POST / with topic, title, message), each as its documentation describes."""
    where = http_receiver.address
    config = write_config(
        tmp_path,
        apprise_config(
            tmp_path,
            f"mmost://{where}/hookkey",
            f"gotify://{where}/apptoken",
            f"ntfy://{where}/cron-alerts",
        ),
    )
    build_channel(config.channels["team"], config.server).send(problem())
    message = compose(problem(), "https://cron.example.com/jobs/backup")
    by_path = {request.path: request for request in http_receiver.requests}
    assert set(by_path) == {"/hooks/hookkey", "/message", "/"}
    mattermost = by_path["/hooks/hookkey"]
    assert mattermost.headers["Content-Type"] == "application/json"
    text = mattermost.json()["text"]
    assert text.startswith(message.title) and message.text in text
    assert mattermost.json()["username"] == "cronwatch"
    gotify = by_path["/message"]
    assert gotify.headers["X-Gotify-Key"] == "apptoken"
    assert {k: gotify.json()[k] for k in ("title", "message")} == {
        "title": message.title,
        "message": message.text,
    }
    assert isinstance(gotify.json()["priority"], int)
    ntfy = by_path["/"].json()
    assert {k: ntfy[k] for k in ("topic", "title", "message")} == {
        "topic": "cron-alerts",
        "title": message.title,
        "message": message.text,
    }


def test_a_failure_is_retried_and_shown_then_delivered(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, apprise_config(tmp_path, f"json://{http_receiver.address}/cw"))
    ran(monitor, "backup", timedelta(0), ok=False)
    http_receiver.answer = 500
    timeline(db, config, range(0, 1), monitor=monitor)
    (row,) = AlertStore(db).deliveries()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and row.last_error.startswith("apprise: ")
    assert "500" in row.last_error
    assert row.next_attempt == T0 + 45 * SECONDS + 30 * SECONDS
    assert http_receiver.requests == []
    http_receiver.answer = 200
    timeline(db, config, range(1, 3), monitor=monitor)
    assert len(http_receiver.requests) == 1
    assert AlertStore(db).deliveries() == []
    assert db.query("SELECT status, attempts FROM deliveries") == [("sent", 2)]


def test_urls_from_the_environment(
    http_receiver: HttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = apprise_config(tmp_path).replace("urls = []", 'urls_env = "CW_APPRISE_URLS"')
    channel = build_channel(write_config(tmp_path, text).channels["team"])
    with pytest.raises(DeliveryError, match="environment variable CW_APPRISE_URLS"):
        channel.send(problem())
    monkeypatch.setenv(
        "CW_APPRISE_URLS", f"json://{http_receiver.address}/a, json://{http_receiver.address}/b"
    )
    channel.send(problem())
    assert sorted(request.path for request in http_receiver.requests) == ["/a", "/b"]


def test_an_unusable_url_is_a_delivery_error_that_does_not_show_the_token(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, apprise_config(tmp_path, "nosuchservice://s3cr3t@host"))
    with pytest.raises(DeliveryError) as caught:
        build_channel(config.channels["team"]).send(problem())
    assert "urls[0]: Apprise cannot use this nosuchservice:// URL" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("", "channels.team.urls: required (or urls_env, an environment variable)"),
        ('urls = ["json://x"]\nurls_env = "X"', "channels.team.urls_env: give urls or urls_env"),
        ("urls = []", "channels.team.urls: expected a non-empty list of URLs"),
        ('urls = ["not a url"]', "channels.team.urls[0]: expected a service URL"),
        ('urls_env = "1X"', "channels.team.urls_env: expected the name of an environment"),
    ],
)
def test_config_errors(tmp_path: Path, options: str, message: str) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(f'[channels.team]\ntype = "apprise"\n{options}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_apprise_is_imported_only_by_the_sender() -> None:
    """`cronwatch run`'s path, the server app and the alert loop do not import Apprise (half
    a second); building and sending through an Apprise channel does."""
    code = (
        "import sys, cronwatch.cli.main, cronwatch.runner, cronwatch.web.app, "
        "cronwatch.alerts.loop, cronwatch.alerts.channels\n"
        "assert 'apprise' not in sys.modules, 'imported too early'\n"
        "from cronwatch.alerts.channels.apprise import AppriseChannel\n"
        "assert 'apprise' not in sys.modules, 'imported by the module, not the send'\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_nothing_is_sent_twice_when_two_cycles_see_the_same_minute(
    tmp_path: Path, db: Database, monitor: Monitor, http_receiver: HttpReceiver
) -> None:
    config = write_config(tmp_path, apprise_config(tmp_path, f"json://{http_receiver.address}/cw"))
    ran(monitor, "backup", timedelta(0), ok=False)
    timeline(db, config, range(0, 1), monitor=monitor)
    timeline(db, config, range(0, 1), monitor=monitor, offset=50 * SECONDS)
    assert len(http_receiver.requests) == 1


def test_pagerduty_and_opsgenie_urls_carry_the_incident_as_their_alert_key() -> None:
    """Apprise's own parsing of the URLs sent: the incident is PagerDuty's dedup key and
    Opsgenie's alias, with action=map (recoveries resolve/close); other URLs, and keys or
    actions the user set, are kept."""
    import apprise

    event = problem()
    pd = apprise.Apprise.instantiate(with_incident("pagerduty://ikey@apikey/src", event))
    assert pd is not None and (vars(pd)["dedup"], vars(pd)["action"]) == (event.incident, "map")
    og = apprise.Apprise.instantiate(with_incident("opsgenie://apikey/@team", event))
    assert og is not None and (vars(og)["alias"], vars(og)["action"]) == (event.incident, "map")
    own = with_incident("pagerduty://ikey@apikey?dedup=mine&action=trigger", event)
    assert own == "pagerduty://ikey@apikey?dedup=mine&action=trigger"
    assert with_incident("json://h/x", event) == "json://h/x"
    no_incident = Event("b", "", "test", "ok", "ok", "r", "t", T0)
    assert with_incident("opsgenie://apikey", no_incident) == "opsgenie://apikey"


README = REPO / "README.md"


def _readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_every_apprise_url_of_the_readme_is_one_apprise_accepts() -> None:
    import re

    import apprise

    table = _readme_section("Alerts").split("### 100+ services through Apprise")[1]
    rows = re.findall(r"^\| ([^|]+) \| `([^`]+)`", table, flags=re.M)
    assert len(rows) >= 13, rows
    for service, url in rows:
        assert apprise.Apprise.instantiate(url) is not None, f"{service}: {url}"


def test_the_readme_alerts_config_loads(tmp_path: Path) -> None:
    section = _readme_section("Alerts")
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = write_config(tmp_path, toml)
    assert config.channels["team"].type == "apprise"
    assert config.channels["pager"].type == "pagerduty"
    assert config.server.public_url == "https://cron.example.com"
    assert config.alerts.for_job(config.jobs["backup"]).escalate_to == ("pager",)
    for block in section.split("```toml\n")[2:]:
        write_config(tmp_path, block.split("```", 1)[0])  # the template examples load too
