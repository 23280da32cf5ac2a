"""Webhook templates against a real HTTP receiver: ``method``, a ``body`` with placeholders
escaped for JSON (valid JSON whatever a name or an output holds), form-encoded in a form body,
percent-encoded in the URL; a template error is a config error naming the field, at load."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from cronwatch.alerts.cycle import run_alert_cycle
from cronwatch.alerts.messages import compose
from cronwatch.config import load_config
from cronwatch.errors import ConfigError
from cronwatch.monitor import make_run
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.connection import Database
from cronwatch.storage.runs import RunStore
from tests.support.alerting import T0, write_config
from tests.support.receivers import HttpReceiver

#: A name with quotes, a backslash, braces and Unicode (names cannot hold newlines: the
#: output and the message text do).
NAME = 'nightly "report" \\ {job} café ☃'
OUTPUT = 'line 1\nsaid "no" \\ then\ttab\n{text} </script> ünïcødé 💥\nlast line'


def failed_run(db: Database, name: str = NAME) -> None:
    RunStore(db).save(
        make_run(name, T0, T0 + timedelta(seconds=30), outcome="failure", exit_code=3,
                 hostname="db1", output=OUTPUT)
    )  # fmt: skip


def config_text(receiver: HttpReceiver, channel: str, name: str = NAME) -> str:
    return (
        f'[jobs.{json.dumps(name)}]\nalerts = ["hook"]\ntags = ["db", "nightly"]\n'
        f'[server]\npublic_url = "https://cron.example.com/"\n'
        f'[channels.hook]\ntype = "webhook"\ntimeout = "3s"\n{channel}'
    )


def test_a_json_body_is_valid_json_whatever_the_values_hold(
    tmp_path: Path, db: Database, http_receiver: HttpReceiver
) -> None:
    body = (
        '{"content": "{text}", "job": "{job}", "output": "{output_tail}", "kind": "{kind}",'
        ' "status": "{status}", "was": "{previous_status}", "why": "{reason}", "at": "{at}",'
        ' "incident": "{incident}", "link": "{url}", "tags": "{tags}", "host": "{host}",'
        ' "nested": {"literal braces": ["{", "}"], "code": "{exit_code}"}}'
    )
    channel = f"url = {json.dumps(http_receiver.url)}\nmethod = \"PUT\"\nbody = '''{body}'''\n"
    config = write_config(tmp_path, config_text(http_receiver, channel))
    failed_run(db)
    run_alert_cycle(db, config, T0 + timedelta(minutes=1))
    (request,) = http_receiver.requests
    assert request.method == "PUT"
    assert request.headers["Content-Type"] == "application/json"
    received = request.json()  # valid JSON, or this fails
    (event,) = [e for e in AlertStore(db).events(NAME) if e.kind == "problem"]
    message = compose(event, "https://cron.example.com/jobs/" + _quoted(NAME))
    assert received == {
        "content": message.text,
        "job": NAME,
        "output": OUTPUT,
        "kind": "problem",
        "status": "failing",
        "was": "new",
        "why": event.reason,
        "at": event.at.isoformat(),
        "incident": event.incident,
        "link": message.url,
        "tags": "db, nightly",
        "host": "db1",
        "nested": {"literal braces": ["{", "}"], "code": "3"},
    }
    # The message itself carries the facts: the name, the exit code, the output's last lines.
    assert received["content"].startswith(f"{NAME} is FAILING: ")
    assert "Last run:  exit code 3 on db1, 2026-11-28 10:00 UTC" in received["content"]
    assert '    said "no" \\ then\ttab' in received["content"]
    assert f"Job page:  https://cron.example.com/jobs/{_quoted(NAME)}" in received["content"]


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def test_a_form_body_is_form_encoded_and_the_url_percent_encoded(
    tmp_path: Path, db: Database, http_receiver: HttpReceiver
) -> None:
    url = f"http://{http_receiver.address}/notify/{{job}}?incident={{incident}}&s={{status}}"
    channel = (
        f'url = "{url}"\nheaders = {{ Content-Type = "application/x-www-form-urlencoded" }}\n'
        "body = 'message={summary}&job={job}&output={output_tail}'\n"
    )
    config = write_config(tmp_path, config_text(http_receiver, channel))
    failed_run(db)
    run_alert_cycle(db, config, T0 + timedelta(minutes=1))
    (request,) = http_receiver.requests
    (event,) = [e for e in AlertStore(db).events(NAME) if e.kind == "problem"]
    assert request.method == "POST"
    # The name cannot add a path segment or a query parameter: "/" "?" "&" are encoded.
    path, _, query = request.path.partition("?")
    assert path == "/notify/" + _quoted(NAME)
    assert query == f"incident={event.incident}&s=failing"
    assert request.form() == {"message": [event.text], "job": [NAME], "output": [OUTPUT]}


def test_get_sends_no_body_and_the_default_body_is_the_event_as_json(
    tmp_path: Path, db: Database, http_receiver: HttpReceiver
) -> None:
    channel = f'url = "http://{http_receiver.address}/ping?job={{job}}"\nmethod = "GET"\n'
    config = write_config(tmp_path, config_text(http_receiver, channel, "backup"))
    failed_run(db, "backup")
    run_alert_cycle(db, config, T0 + timedelta(minutes=1))
    (request,) = http_receiver.requests
    assert (request.method, request.path, request.body) == ("GET", "/ping?job=backup", b"")
    assert "Content-Type" not in request.headers


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        (
            'url = "https://x.example/"\nbody = \'{"text": "{jbo}"}\'',
            'channels.hook.body: unknown placeholder {jbo} (did you mean "{job}"?); '
            "placeholders: {job}, {host}, ",
        ),
        (
            'url = "https://x.example/{nmae}"',
            "channels.hook.url: unknown placeholder {nmae}",
        ),
        (
            'url = "https://x.example/"\nbody = \'{"text": {text}}\'',
            "channels.hook.body: not valid JSON once filled in (Expecting value: line 1 "
            'column 10 (char 9)); placeholders go inside JSON strings, e.g. {"text": "{text}"}',
        ),
        (
            'url = "https://x.example/"\nbody = \'{"text": "{text}"\'',
            "channels.hook.body: not valid JSON once filled in",
        ),
        (
            'url = "https://x.example/"\nmethod = "GET"\nbody = "x"',
            "channels.hook.body: a GET request has no body; use another method",
        ),
        ('url = "https://x.example/"\nmethod = "POTS"', "channels.hook.method: expected one of"),
    ],
)
def test_a_template_error_is_a_config_error_naming_the_field(
    tmp_path: Path, channel: str, message: str
) -> None:
    path = tmp_path / "cronwatch.toml"
    path.write_text(f'[channels.hook]\ntype = "webhook"\n{channel}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}")


def test_a_raw_body_takes_values_as_they_are(
    tmp_path: Path, db: Database, http_receiver: HttpReceiver
) -> None:
    channel = (
        f"url = {json.dumps(http_receiver.url)}\n"
        'headers = { Content-Type = "text/plain; charset=utf-8" }\nbody = "{title}: {reason}"\n'
    )
    config = write_config(tmp_path, config_text(http_receiver, channel))
    failed_run(db)
    run_alert_cycle(db, config, T0 + timedelta(minutes=1))
    (request,) = http_receiver.requests
    (event,) = [e for e in AlertStore(db).events(NAME) if e.kind == "problem"]
    assert request.body.decode() == f"{NAME} is FAILING: {event.reason}"
