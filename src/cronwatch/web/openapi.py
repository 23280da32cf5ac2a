"""The OpenAPI 3.1 description of the REST API and the ping endpoints, written by hand.

Kept next to the handlers it describes and checked against the running server by schemathesis
(``tests/web/test_openapi_schemathesis.py``): every status code a handler can answer with is listed,
and the schemas state the same limits the handlers enforce (name rules, lengths, ranges), so
that a client generated from this document is refused only for reasons it can see here. A
job's fields come from the one table of job fields (:mod:`cronwatch.specs.fields`).

One concept, one document, hence its length: the schemas, then the paths in named groups
(:func:`_job_paths`, :func:`_run_paths`, :func:`_status_paths`, :func:`_ping_paths`,
:func:`_service_paths`).
"""

from __future__ import annotations

from typing import Any

from cronwatch.health.model import PRIORITY
from cronwatch.model import OUTCOMES, RUN_JSON_FIELDS
from cronwatch.names import (
    MAX_HOST_LENGTH,
    MAX_NAME_LENGTH,
    MAX_RUN_ID_LENGTH,
    NAME_PATTERN,
    RUN_ID_CHARACTERS,
)
from cronwatch.specs.fields import json_schemas, name_schema
from cronwatch.specs.values import TEXT_PATTERN
from cronwatch.storage.keys import TOKEN_PATTERN
from cronwatch.version import __version__

__all__ = ["JOB_FIELD_SCHEMAS", "NAME_PATTERN", "SCHEMAS", "document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_INSTANT = {"type": "string", "format": "date-time"}
_INSTANT_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_SECONDS_OR_NULL = {"type": ["number", "null"]}
_NEXT_PAGE = {
    "type": ["string", "null"],
    "description": "`cursor` of the next page; null on the last page and on a whole list.",
}
#: ``limit`` and ``cursor`` of the paged listings (jobs, statuses): keyset pages by job name,
#: stable while jobs are added (each job is on exactly one page).
_LIST_PAGE = [
    {
        "name": "limit",
        "in": "query",
        "description": "Page size; without `limit` and `cursor` the whole list comes at once.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    },
    {
        "name": "cursor",
        "in": "query",
        "description": "`next` of the previous page.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,400}$"},
    },
]
_RUN_ID = {
    "type": "string",
    "pattern": f"^[{RUN_ID_CHARACTERS}]{{1,{MAX_RUN_ID_LENGTH}}}$",
    "description": "Pairs a start with its finish; the same rule in the library.",
}

#: The job fields the API takes, from the one table of job fields.
JOB_FIELD_SCHEMAS: dict[str, Any] = json_schemas()

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}

_NEXT_DUE = {
    **_INSTANT_OR_NULL,
    "description": "The next slot still to come, never in the past (null without a schedule).",
}
_OVERDUE_SINCE = {
    **_INSTANT_OR_NULL,
    "description": "Set while missing or late: the first slot the last run did not cover "
    '("missed since"); it stays put until a run comes.',
}

_HOST_STATUS = {
    "type": "object",
    "required": ["hostname", "status", "reason"],
    "properties": {
        "hostname": {"type": "string"},
        "status": {"enum": list(PRIORITY)},
        "reason": {"type": "string"},
        "last_started": _INSTANT_OR_NULL,
        "last_completed": _INSTANT_OR_NULL,
        "last_outcome": {"enum": [*OUTCOMES, None]},
        "last_duration_seconds": _SECONDS_OR_NULL,
        "next_due": _NEXT_DUE,
        "overdue_since": _OVERDUE_SINCE,
    },
}

_JOB_STATUS = {
    "type": "object",
    "required": ["name", "status", "severity", "reason", "hosts"],
    "properties": {
        "name": {"type": "string"},
        "status": {"enum": list(PRIORITY)},
        "severity": {"type": "integer", "minimum": 0, "maximum": 2},
        "reason": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "string"}},
        "schedule": {"type": "string"},
        "learned": {"type": "boolean"},
        "next_due": _NEXT_DUE,
        "overdue_since": _OVERDUE_SINCE,
        "last_started": {
            **_INSTANT_OR_NULL,
            "description": "When the last run started: a run's time is its start, in every "
            "field and view.",
        },
        "last_success": _INSTANT_OR_NULL,
        "last_duration_seconds": _SECONDS_OR_NULL,
        "runtime_band_seconds": {
            "anyOf": [
                {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
                {"type": "null"},
            ]
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "hosts": {"type": "array", "items": _ref("HostStatus")},
    },
}

_EVENT = {
    "type": "object",
    "description": "A status change or notification of a job (its alert history).",
    "required": ["event_id", "kind", "job", "status", "previous_status", "reason", "text", "at"],
    "properties": {
        "event_id": {"type": "integer"},
        "kind": {
            "enum": [
                "change",
                "problem",
                "reminder",
                "escalation",
                "recovery",
                "ack",
                "action",
                "log",
            ],
            "description": "ack: somebody acknowledged the incident (acknowledged_by, note); "
            "action: somebody paused, resumed, snoozed, unsnoozed, edited or deleted the job "
            "(reason: the verb; by, note); log: a /log ping (text: its body).",
        },
        "job": {"type": "string"},
        "host": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "previous_status": {"type": "string"},
        "reason": {"type": "string"},
        "text": {"type": "string", "description": "The one-line message."},
        "note": {"type": ["string", "null"]},
        "at": _INSTANT,
        "incident": {
            "type": ["string", "null"],
            "description": "The incident's id: the same on its problem, reminders, escalation, "
            "acknowledgement and recovery.",
        },
        "since": _INSTANT_OR_NULL,
        "acknowledged_by": {"type": ["string", "null"]},
        "by": {
            "type": ["string", "null"],
            "description": "Who acknowledged or acted: the key's name (else its id).",
        },
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "Event": _EVENT,
    "EventList": {
        "type": "object",
        "required": ["events"],
        "properties": {"events": {"type": "array", "items": _ref("Event")}},
    },
    "Ack": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "note": {
                "type": ["string", "null"],
                "maxLength": 1000,
                "pattern": TEXT_PATTERN,
                "description": "Why, or what is being done (no control characters but tabs "
                "and newlines).",
            }
        },
    },
    "JobCreate": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": name_schema(), **JOB_FIELD_SCHEMAS},
        # The rules between fields that a schema can state; the others are in the fields'
        # descriptions (min_hosts at most the number of hosts, min_runtime <= max_runtime).
        "not": {"required": ["schedule", "on_calendar"]},
        "dependentRequired": {"min_hosts": ["hosts"]},
        "description": "A job: at most one of schedule and on_calendar; min_hosts needs hosts "
        "(and is at most their number); min_runtime is at most max_runtime.",
    },
    "JobPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "JSON Merge Patch of the job's fields: null removes a field.",
        "properties": {field: _nullable(schema) for field, schema in JOB_FIELD_SCHEMAS.items()},
    },
    "Job": {
        "type": "object",
        "required": ["name", "uuid", "source", "paused", "spec", "created", "updated"],
        "properties": {
            "name": {"type": "string"},
            "uuid": {
                "type": ["string", "null"],
                "description": "The job's ping UUID: /ping/<uuid> records its runs without a"
                " key (null for a job of the config file the server has not stored yet).",
            },
            "source": {"enum": ["config", "api", "run"]},
            "paused": {"type": "boolean"},
            "spec": {"type": "object", "properties": JOB_FIELD_SCHEMAS},
            "created": _INSTANT_OR_NULL,
            "updated": _INSTANT_OR_NULL,
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs", "next"],
        "properties": {
            "jobs": {"type": "array", "items": _ref("Job")},
            "next": _NEXT_PAGE,
        },
    },
    "Run": {
        "type": "object",
        "required": list(RUN_JSON_FIELDS),
        "properties": {
            "name": {"type": "string"},
            "hostname": {"type": "string"},
            "run_id": {"type": "string"},
            "outcome": {"enum": list(OUTCOMES)},
            "exit_code": {"type": ["integer", "null"]},
            "date_started": _INSTANT,
            "date_completed": _INSTANT_OR_NULL,
            "duration_seconds": _SECONDS_OR_NULL,
            "output": {"type": ["string", "null"]},
        },
    },
    "RunPage": {
        "type": "object",
        "required": ["runs", "next"],
        "properties": {
            "runs": {"type": "array", "items": _ref("Run")},
            "next": {"type": ["string", "null"], "description": "`before` of the next page."},
        },
    },
    "RunInput": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "hostname", "run_id", "outcome", "date_started"],
        "properties": {
            "name": name_schema(),
            "hostname": name_schema(MAX_HOST_LENGTH),
            "run_id": _RUN_ID,
            "outcome": {"enum": list(OUTCOMES)},
            "exit_code": {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
            "date_started": _INSTANT,
            "date_completed": _INSTANT_OR_NULL,
            "duration_seconds": {"type": ["number", "null"], "description": "Ignored."},
            "output": {"type": ["string", "null"]},
        },
        "description": "The rules the server enforces, beyond the types: a running run has no "
        "date_completed and a finished one needs it, not before date_started; a success's "
        "exit_code is 0 or null, a failure's 1-255 or null; neither instant may be more than "
        "the server's future tolerance (5 minutes by default) ahead of its clock.",
        "allOf": [
            {
                "if": {"properties": {"outcome": {"const": "running"}}},
                "then": {"properties": {"date_completed": {"type": "null"}}},
                "else": {
                    "required": ["date_completed"],
                    "properties": {"date_completed": _INSTANT},
                },
            },
            {
                "if": {"properties": {"outcome": {"const": "success"}}},
                "then": {"properties": {"exit_code": {"enum": [0, None]}}},
            },
            {
                "if": {"properties": {"outcome": {"const": "failure"}}},
                "then": {
                    "properties": {
                        "exit_code": {"type": ["integer", "null"], "minimum": 1, "maximum": 255}
                    }
                },
            },
        ],
    },
    "Recorded": {
        "type": "object",
        "required": ["stored"],
        "properties": {"stored": {"type": "boolean"}},
    },
    "HostStatus": _HOST_STATUS,
    "JobStatus": _JOB_STATUS,
    "StatusList": {
        "type": "object",
        "required": ["jobs", "next"],
        "properties": {
            "jobs": {"type": "array", "items": _ref("JobStatus")},
            "next": _NEXT_PAGE,
        },
    },
}


def _repeated(name: str, max_length: int) -> dict[str, Any]:
    """A query parameter that may be given several times (``?tag=a&tag=b``)."""
    return {
        "name": name,
        "in": "query",
        "style": "form",
        "explode": True,
        "schema": {"type": "array", "items": name_schema(max_length)},
    }


_ERROR_TEXT = {
    400: "Invalid input; the message says which field and why. Nothing was written.",
    401: "Missing, unknown or revoked key.",
    403: "The key's scope does not allow this.",
    404: "No such job (or not a ping URL).",
    405: "Method not allowed.",
    409: "Conflicts with the job's current state (exists already, declared in the config file).",
    413: "Request body over the limit.",
    429: "Rate limit of this key exceeded; see Retry-After.",
    503: "The database is unavailable or the server is overloaded; retry later.",
}


def _responses(ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    responses = dict(ok)
    for code in codes:
        responses[str(code)] = {
            "description": _ERROR_TEXT[code],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return responses


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
_NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": name_schema()}
_READ = (400, 401, 403, 404, 429)
_WRITE = (400, 401, 403, 404, 409, 413, 429)


def _operation(
    summary: str,
    operation_id: str,
    ok: dict[str, Any],
    codes: tuple[int, ...],
    *,
    body: str | None = None,
    body_required: bool = True,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One operation of the REST API: bearer auth, its success and error responses, the JSON
    body of schema ``body`` and query ``parameters`` when it has them."""
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": operation_id,
        "security": _AUTH,
    }
    if parameters is not None:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    operation["responses"] = _responses(ok, *codes)
    return operation


def _job_paths() -> dict[str, Any]:
    """Declaring, reading, changing, pausing and forgetting jobs."""
    return {**_job_collection_paths(), **_job_action_paths(), **_job_history_paths()}


def _job_collection_paths() -> dict[str, Any]:
    """The collection of jobs and one job in it: list, declare, read, change, forget."""
    return {
        "/api/v1/jobs": {
            "get": _operation(
                "Every job",
                "listJobs",
                {"200": _json("The jobs, by name (one page with `limit` or `cursor`).", "JobList")},
                (400, 401, 403, 429),
                parameters=_LIST_PAGE,
            ),
            "post": _operation(
                "Declare a job",
                "createJob",
                {"201": _json("The job created.", "Job")},
                (400, 401, 403, 409, 413, 429),
                body="JobCreate",
            ),
        },
        "/api/v1/jobs/{name}": {
            "parameters": [_NAME_PARAM],
            "get": _operation("One job", "getJob", {"200": _json("The job.", "Job")}, _READ),
            "patch": _operation(
                "Change a job's fields (JSON Merge Patch)",
                "updateJob",
                {"200": _json("The job changed.", "Job")},
                _WRITE,
                body="JobPatch",
            ),
            "delete": _operation(
                "Forget a job and its runs",
                "deleteJob",
                {"204": {"description": "Deleted."}},
                (401, 403, 404, 409, 429),
            ),
        },
    }


def _job_action_paths() -> dict[str, Any]:
    """The actions on one job: pause, unpause, a new ping UUID, acknowledging its incident."""
    return {
        "/api/v1/jobs/{name}/pause": {
            "parameters": [_NAME_PARAM],
            "post": _operation(
                "Pause a job", "pauseJob", {"200": _json("The job, paused.", "Job")}, _WRITE
            ),
        },
        "/api/v1/jobs/{name}/unpause": {
            "parameters": [_NAME_PARAM],
            "post": _operation(
                "Resume a paused job",
                "unpauseJob",
                {"200": _json("The job, resumed.", "Job")},
                _WRITE,
            ),
        },
        "/api/v1/jobs/{name}/uuid": {
            "parameters": [_NAME_PARAM],
            "post": _operation(
                "Give the job a new random ping UUID: the old /ping/<uuid> URL stops working",
                "regenerateJobUuid",
                {"200": _json("The job, with its new UUID.", "Job")},
                (401, 403, 404, 429),
            ),
        },
        "/api/v1/jobs/{name}/ack": {
            "parameters": [_NAME_PARAM],
            "post": _operation(
                "Acknowledge the job's open incident: no more reminders or escalation until it "
                "recovers (409 when no problem of the job is announced)",
                "ackJob",
                {"200": _json("The acknowledgement, as recorded in the job's history.", "Event")},
                _WRITE,
                body="Ack",
                body_required=False,
            ),
        },
    }


def _job_history_paths() -> dict[str, Any]:
    """The job's alert history."""
    return {
        "/api/v1/jobs/{name}/events": {
            "parameters": [_NAME_PARAM],
            "get": _operation(
                "The job's alert history, newest first",
                "listJobEvents",
                {"200": _json("The latest events.", "EventList")},
                _READ,
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    }
                ],
            ),
        },
    }


def _run_paths() -> dict[str, Any]:
    """A job's runs a page at a time, and recording a run given whole."""
    page_parameters = [
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
        },
        {
            "name": "before",
            "in": "query",
            "description": "`next` of the previous page.",
            "schema": {"type": "string", "pattern": r"^-?[0-9]{1,19}_[0-9]{1,19}$"},
        },
        {"name": "host", "in": "query", "schema": name_schema(MAX_HOST_LENGTH)},
        {"name": "outcome", "in": "query", "schema": {"enum": list(OUTCOMES)}},
    ]
    recorded = {
        "201": _json("Stored now.", "Recorded"),
        "200": _json("Already stored before (a replay).", "Recorded"),
    }
    return {
        "/api/v1/jobs/{name}/runs": {
            "parameters": [_NAME_PARAM],
            "get": _operation(
                "A job's runs, newest first, a page at a time",
                "listRuns",
                {"200": _json("One page of runs.", "RunPage")},
                _READ,
                parameters=page_parameters,
            ),
        },
        "/api/v1/runs": {
            "post": _operation(
                "Record a run given whole (idempotent on name and run_id)",
                "recordRun",
                recorded,
                (400, 401, 403, 413, 429, 503),
                body="RunInput",
            ),
        },
    }


def _status_paths() -> dict[str, Any]:
    """The health of every job, filtered by tags and hosts."""

    return {
        "/api/v1/status": {
            "get": _operation(
                "The health of every job, worst first; or one page of it, by name",
                "status",
                {
                    "200": _json(
                        "Every job's status, worst first; with `limit` or `cursor`, one page of"
                        " jobs by name (a page filtered by tag or host may hold fewer).",
                        "StatusList",
                    )
                },
                (400, 401, 403, 429),
                parameters=[
                    _repeated("tag", MAX_NAME_LENGTH),
                    _repeated("host", MAX_HOST_LENGTH),
                    *_LIST_PAGE,
                ],
            ),
        },
    }


_PING_CODES = (400, 401, 403, 404, 413, 429, 503)


def _ping(
    summary: str, operation: str, extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One ping URL: GET, POST (with the run's output as its body) and HEAD."""
    parameters = [
        {
            "name": "ping_key",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": f"^{TOKEN_PATTERN.pattern}$"},
        },
        _NAME_PARAM,
        *(extra or []),
        {
            "name": "host",
            "in": "query",
            "description": "Default: the client's address.",
            "schema": name_schema(MAX_HOST_LENGTH),
        },
        {
            "name": "rid",
            "in": "query",
            "description": "Run id pairing a start and its finish.",
            "schema": _RUN_ID,
        },
    ]
    ok = {
        "200": {
            "description": "Recorded.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
    item: dict[str, Any] = {"parameters": parameters}
    for method in ("get", "post"):
        item[method] = {
            "summary": summary,
            "operationId": f"{operation}_{method}",
            "responses": _responses(ok, *_PING_CODES),
        }
    item["post"]["requestBody"] = {
        "required": False,
        "description": "The run's output; its last 10,000 characters are kept.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    item["head"] = {
        "summary": summary,
        "operationId": f"{operation}_head",
        "responses": {
            str(code): {"description": _ERROR_TEXT.get(code, "Recorded.")}
            for code in (200, *_PING_CODES)
        },
    }
    return item


def _ping_paths() -> dict[str, Any]:
    exit_code = {
        "name": "exit_code",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": 255},
    }
    return {
        "/ping/{ping_key}/{name}": _ping("A run succeeded", "pingSuccess"),
        "/ping/{ping_key}/{name}/start": _ping("A run started", "pingStart"),
        "/ping/{ping_key}/{name}/fail": _ping("A run failed", "pingFail"),
        "/ping/{ping_key}/{name}/{exit_code}": _ping(
            "A run ended with this exit code (0: success)", "pingExitCode", [exit_code]
        ),
    }


def _service_paths() -> dict[str, Any]:
    """Liveness and metrics, for monitors and Prometheus: no key."""
    alive = {
        "type": "object",
        "required": ["status", "alerting"],
        "properties": {
            "status": {"const": "ok"},
            "alerting": {
                "type": "object",
                "description": "The alert loops' heartbeat (alive, last_heartbeat, "
                "age_seconds, loops) and deliveries (pending, retrying, failed).",
                "required": ["alive", "last_heartbeat"],
            },
        },
    }
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness and database reachability",
                "operationId": "healthz",
                "responses": {
                    "200": {
                        "description": "Serving.",
                        "content": {"application/json": {"schema": alive}},
                    },
                    "503": {
                        "description": _ERROR_TEXT[503],
                        "content": {"application/json": {"schema": _ref("Error")}},
                    },
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "description": "Every job's series (README: Prometheus); with `tag`, only "
                "the jobs that have any of those tags.",
                "parameters": [_repeated("tag", MAX_NAME_LENGTH)],
                "responses": {
                    "200": {
                        "description": "Prometheus text format 0.0.4.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "400": {
                        "description": _ERROR_TEXT[400],
                        "content": {"application/json": {"schema": _ref("Error")}},
                    },
                },
            }
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document served at ``/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cronwatch",
            "version": __version__,
            "description": "Record runs of scheduled jobs (ping URLs), read and declare jobs, "
            "read their health. API keys: `cronwatch key create --scope ping|read|write`.",
        },
        "paths": {
            **_job_paths(),
            **_run_paths(),
            **_status_paths(),
            **_ping_paths(),
            **_service_paths(),
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
