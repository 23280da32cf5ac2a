"""``/openapi.json`` is a valid OpenAPI 3.1 document that describes exactly the server's routes,
and its name rules are exactly the library's (so a client generated from it is refused only for
reasons it can see)."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cronwatch.errors import InvalidInput
from cronwatch.names import FORMAT_CHARACTERS, validate_name
from cronwatch.specs.fields import API_FIELDS, FIELDS_BY_NAME
from cronwatch.web import ServerSettings, create_app
from cronwatch.web.openapi import NAME_PATTERN, SCHEMAS, document

DOC = document()


def test_the_document_is_valid_openapi_3_1() -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    validator = jsonschema_rs.Draft202012Validator(OPENAPI_31)
    errors = [error.message for error in validator.iter_errors(DOC)]
    assert errors == []
    for name in SCHEMAS:  # each schema is valid JSON Schema 2020-12, its references resolve
        root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
        jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    app = create_app(ServerSettings(database_url="sqlite:////nonexistent/unused.db"))
    served: set[tuple[str, str]] = set()
    for route in app.starlette.routes:
        path = getattr(route, "path", "")
        for method in getattr(route, "methods", set()) - {"HEAD"}:
            served.add((path, method.lower()))
    documented = {
        (path, method)
        for path, item in DOC["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete", "head"}
        and not path.startswith("/ping/")
    }
    # The dashboard's HTML pages are for people, not part of the API.
    from starlette.routing import Route

    from cronwatch.web import dashboard

    pages = {
        (route.path, method.lower())
        for route in dashboard.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    undocumented_pages = {("/openapi.json", "get")} | pages
    # Healthchecks' API (v3, and v1 and v2 as Healthchecks serves them) and badges are
    # Healthchecks' to document (README: "Coming from Healthchecks"); they are checked against
    # the real Healthchecks instead.
    hc_paths = (
        "/api/v3/",
        "/api/v2/checks/",
        "/api/v2/channels/",
        "/api/v2/status/",
        "/api/v1/checks/",
        "/api/v1/channels/",
        "/api/v1/status/",
        "/badge/",
        "/b/",
    )
    healthchecks = {(path, method) for path, method in served
                    if path.startswith(hc_paths)}  # fmt: skip
    assert len(healthchecks) == 3 * 12 + 2
    assert served - undocumented_pages - healthchecks == documented


def test_every_operation_documents_its_errors_as_json() -> None:
    for path, item in DOC["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["operationId"]
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and method != "head":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)
            if "security" in operation:
                assert "401" in operation["responses"] and "403" in operation["responses"]


@given(st.text(max_size=210))
def test_the_name_pattern_is_validate_name(text: str) -> None:
    try:
        validate_name(text)
        accepted = True
    except InvalidInput:
        accepted = False
    matches = re.fullmatch(NAME_PATTERN.strip("^$"), text) is not None and 1 <= len(text) <= 200
    assert matches == accepted


EDGE_CASES = (" a", "a ", "a/b", "a\x00", "\x85", "a\u2028b", "ok name", "é", "x" * 200)
LOOK_ALIKES = ("a\u200bb", "\u202eab", "ab\ufeff", "a\U000e0020", "e\u0301")


@pytest.mark.parametrize("text", [*EDGE_CASES, *LOOK_ALIKES])
def test_the_name_pattern_on_edge_cases(text: str) -> None:
    try:
        validate_name(text)
        accepted = True
    except InvalidInput:
        accepted = False
    assert (re.fullmatch(NAME_PATTERN.strip("^$"), text) is not None) == accepted


def test_the_name_pattern_refuses_every_format_character() -> None:
    pattern = re.compile(NAME_PATTERN)
    for low, high in FORMAT_CHARACTERS:
        for code in range(low, high + 1):
            assert pattern.fullmatch(f"a{chr(code)}b") is None, hex(code)


def test_job_fields_are_the_field_table_and_state_its_rules() -> None:
    job_create = SCHEMAS["JobCreate"]["properties"]
    assert set(job_create) == {"name"} | API_FIELDS
    for name in API_FIELDS:
        schema = FIELDS_BY_NAME[name].json_schema()
        assert job_create[name] == schema
        assert SCHEMAS["JobPatch"]["properties"][name] == {"anyOf": [schema, {"type": "null"}]}
        assert schema["description"], name
    # An empty timezone or schedule is refused by the server, and the schema says so.
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/JobCreate", "components": {"schemas": SCHEMAS}}
    )
    for body in (
        {"name": "x", "timezone": ""},
        {"name": "x", "timezone": "Europe/../etc"},
        {"name": "x", "schedule": "  "},
        {"name": "x", "max_runtime": 0},
        {"name": "x", "min_hosts": 0},
        {"name": "x", "grace": -1},
        {"name": "x", "tags": ["a", "a"]},
        {"name": "x", "alert_after": 2},  # config file only
        {"name": "x", "schedule": "@daily", "on_calendar": "daily"},  # one or the other
        {"name": "x", "min_hosts": 1},  # needs hosts
        {"name": "x", "description": "bell\u0007"},  # no control characters
    ):
        assert not validator.is_valid(body), body
    assert validator.is_valid({"name": "x", "timezone": "America/Argentina/Buenos_Aires"})
    assert validator.is_valid({"name": "x", "hosts": ["a", "b"], "min_hosts": 1})
    assert validator.is_valid({"name": "x", "description": "two\tlines\nof text"})
    ack = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/Ack", "components": {"schemas": SCHEMAS}}
    )
    assert ack.is_valid({"note": "on it\nlooking"}) and not ack.is_valid({"note": "esc\u001b"})


def test_a_run_input_is_valid_exactly_when_the_server_takes_its_outcome() -> None:
    # Issue 12: the schema allowed exit code 0 with outcome failure, which the server refuses.
    # Every combination of outcome, exit code and completion: the schema and make_run agree.
    from datetime import UTC, datetime

    from cronwatch.monitor import make_run

    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/RunInput", "components": {"schemas": SCHEMAS}}
    )
    started = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    completed = datetime(2026, 11, 28, 3, 5, tzinfo=UTC)
    checked = 0
    for outcome in ("success", "failure", "running"):
        for exit_code in (None, 0, 1, 2, 255):
            for done in (None, completed):
                body: dict[str, object] = {
                    "name": "backup", "hostname": "db1", "run_id": "r1", "outcome": outcome,
                    "date_started": started.isoformat(), "exit_code": exit_code,
                }  # fmt: skip
                if done is not None:
                    body["date_completed"] = done.isoformat()
                try:
                    make_run("backup", started, done, outcome=outcome, exit_code=exit_code,
                             hostname="db1", run_id="r1")  # fmt: skip
                    taken = True
                except InvalidInput:
                    taken = False
                assert validator.is_valid(body) == taken, body
                checked += 1
    assert checked == 30
