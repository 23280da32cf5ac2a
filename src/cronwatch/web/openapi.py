"""The OpenAPI 3.1 description of the REST API and the ping endpoints, written by hand.

Kept next to the handlers it describes and checked against the running server by schemathesis
(``tests/test_openapi_schemathesis.py``): every status code a handler can answer with is listed,
and the schemas state the same limits the handlers enforce (name rules, lengths, ranges), so
that a client generated from this document is refused only for reasons it can see here.
"""

from __future__ import annotations

from typing import Any

from cronwatch import __version__
from cronwatch.health.model import PRIORITY
from cronwatch.model import OUTCOMES
from cronwatch.names import MAX_NAME_LENGTH
from cronwatch.storage.keys import TOKEN_PATTERN

# validate_name as a regular expression: no control characters, no "/", no whitespace at
# either end.
_NAME_CHAR = r"[^/\x00-\x1f\x7f-\x9f]"
_EDGE_CHAR = r"[^\s/\x00-\x1f\x7f-\x9f]"
NAME_PATTERN = rf"^{_EDGE_CHAR}(?:{_NAME_CHAR}*{_EDGE_CHAR})?$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _name(max_length: int = MAX_NAME_LENGTH) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NAME_PATTERN}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


_INSTANT = {"type": "string", "format": "date-time"}
_INSTANT_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_SECONDS_OR_NULL = {"type": ["number", "null"]}
_DURATION = {
    "type": ["string", "number"],
    "minimum": 0,
    "description": "A duration such as '30s', '15m', '1h30m', or a number of seconds.",
}
_NAMES = {"type": "array", "items": _name(), "uniqueItems": True}

JOB_FIELD_SCHEMAS: dict[str, Any] = {
    "schedule": {"type": "string", "description": "'every 15m' or a cron expression."},
    "timezone": {"type": "string", "description": "IANA timezone of a cron schedule."},
    "grace": _DURATION,
    "hosts": {"type": "array", "items": _name(255), "uniqueItems": True},
    "min_hosts": {"type": "integer", "minimum": 1},
    "max_runtime": _DURATION,
    "min_runtime": _DURATION,
    "tags": _NAMES,
    "paused": {"type": "boolean"},
    "alerts": _NAMES,
}

_ERROR = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
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
        "next_due": _INSTANT_OR_NULL,
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
        "next_due": _INSTANT_OR_NULL,
        "last_started": _INSTANT_OR_NULL,
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

SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "JobCreate": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {"name": _name(), **JOB_FIELD_SCHEMAS},
    },
    "JobPatch": {
        "type": "object",
        "additionalProperties": False,
        "description": "JSON Merge Patch of the job's fields: null removes a field.",
        "properties": {field: _nullable(schema) for field, schema in JOB_FIELD_SCHEMAS.items()},
    },
    "Job": {
        "type": "object",
        "required": ["name", "source", "paused", "spec", "created", "updated"],
        "properties": {
            "name": {"type": "string"},
            "source": {"enum": ["config", "api", "run"]},
            "paused": {"type": "boolean"},
            "spec": {"type": "object", "properties": JOB_FIELD_SCHEMAS},
            "created": _INSTANT_OR_NULL,
            "updated": _INSTANT_OR_NULL,
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs"],
        "properties": {"jobs": {"type": "array", "items": _ref("Job")}},
    },
    "Run": {
        "type": "object",
        "required": [
            "name",
            "hostname",
            "run_id",
            "outcome",
            "exit_code",
            "date_started",
            "date_completed",
            "duration_seconds",
            "output",
        ],
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
            "name": _name(),
            "hostname": _name(255),
            "run_id": {"type": "string", "pattern": r"^[A-Za-z0-9._:~-]{1,64}$"},
            "outcome": {"enum": list(OUTCOMES)},
            "exit_code": {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
            "date_started": _INSTANT,
            "date_completed": _INSTANT_OR_NULL,
            "duration_seconds": {"type": ["number", "null"], "description": "Ignored."},
            "output": {"type": ["string", "null"]},
        },
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
        "required": ["jobs"],
        "properties": {"jobs": {"type": "array", "items": _ref("JobStatus")}},
    },
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
_NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": _name()}
_READ = (400, 401, 403, 404, 429)
_WRITE = (400, 401, 403, 404, 409, 413, 429)


def _api() -> dict[str, Any]:
    return {
        "/api/v1/jobs": {
            "get": {
                "summary": "Every job",
                "operationId": "listJobs",
                "security": _AUTH,
                "responses": _responses(
                    {"200": _json("The jobs, by name.", "JobList")}, 401, 403, 429
                ),
            },
            "post": {
                "summary": "Declare a job",
                "operationId": "createJob",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("JobCreate")}},
                },
                "responses": _responses(
                    {"201": _json("The job created.", "Job")}, 400, 401, 403, 409, 413, 429
                ),
            },
        },
        "/api/v1/jobs/{name}": {
            "parameters": [_NAME_PARAM],
            "get": {
                "summary": "One job",
                "operationId": "getJob",
                "security": _AUTH,
                "responses": _responses({"200": _json("The job.", "Job")}, *_READ),
            },
            "patch": {
                "summary": "Change a job's fields (JSON Merge Patch)",
                "operationId": "updateJob",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("JobPatch")}},
                },
                "responses": _responses({"200": _json("The job changed.", "Job")}, *_WRITE),
            },
            "delete": {
                "summary": "Forget a job and its runs",
                "operationId": "deleteJob",
                "security": _AUTH,
                "responses": _responses(
                    {"204": {"description": "Deleted."}}, 401, 403, 404, 409, 429
                ),
            },
        },
        "/api/v1/jobs/{name}/pause": {
            "parameters": [_NAME_PARAM],
            "post": {
                "summary": "Pause a job",
                "operationId": "pauseJob",
                "security": _AUTH,
                "responses": _responses({"200": _json("The job, paused.", "Job")}, *_WRITE),
            },
        },
        "/api/v1/jobs/{name}/unpause": {
            "parameters": [_NAME_PARAM],
            "post": {
                "summary": "Resume a paused job",
                "operationId": "unpauseJob",
                "security": _AUTH,
                "responses": _responses({"200": _json("The job, resumed.", "Job")}, *_WRITE),
            },
        },
        "/api/v1/jobs/{name}/runs": {
            "parameters": [_NAME_PARAM],
            "get": {
                "summary": "A job's runs, newest first, a page at a time",
                "operationId": "listRuns",
                "security": _AUTH,
                "parameters": [
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
                    {"name": "host", "in": "query", "schema": _name(255)},
                    {"name": "outcome", "in": "query", "schema": {"enum": list(OUTCOMES)}},
                ],
                "responses": _responses({"200": _json("One page of runs.", "RunPage")}, *_READ),
            },
        },
        "/api/v1/runs": {
            "post": {
                "summary": "Record a run given whole (idempotent on name and run_id)",
                "operationId": "recordRun",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("RunInput")}},
                },
                "responses": _responses(
                    {
                        "201": _json("Stored now.", "Recorded"),
                        "200": _json("Already stored before (a replay).", "Recorded"),
                    },
                    400,
                    401,
                    403,
                    413,
                    429,
                    503,
                ),
            },
        },
        "/api/v1/status": {
            "get": {
                "summary": "The health of every job, worst first",
                "operationId": "status",
                "security": _AUTH,
                "parameters": [
                    {
                        "name": "tag",
                        "in": "query",
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "array", "items": _name()},
                    },
                    {
                        "name": "host",
                        "in": "query",
                        "style": "form",
                        "explode": True,
                        "schema": {"type": "array", "items": _name(255)},
                    },
                ],
                "responses": _responses(
                    {"200": _json("Every job's status.", "StatusList")}, 400, 401, 403, 429
                ),
            },
        },
    }


_PING_CODES = (400, 401, 403, 404, 413, 429, 503)


def _ping(
    summary: str, operation: str, extra: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    parameters = [
        {"name": "ping_key", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": f"^{TOKEN_PATTERN.pattern}$"}},
        _NAME_PARAM,
        *(extra or []),
        {"name": "host", "in": "query", "description": "Default: the client's address.",
         "schema": _name(255)},
        {"name": "rid", "in": "query", "description": "Run id pairing a start and its finish.",
         "schema": {"type": "string", "pattern": r"^[A-Za-z0-9._:~-]{1,64}$"}},
    ]  # fmt: skip
    ok = {"200": {"description": "Recorded.", "content": {"text/plain": {"schema": {
        "type": "string"}}}}}  # fmt: skip
    item: dict[str, Any] = {"parameters": parameters}
    for method in ("get", "post"):
        item[method] = {
            "summary": summary, "operationId": f"{operation}_{method}",
            "responses": _responses(ok, *_PING_CODES),
        }  # fmt: skip
    item["post"]["requestBody"] = {
        "required": False,
        "description": "The run's output; its last 10,000 characters are kept.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    item["head"] = {
        "summary": summary, "operationId": f"{operation}_head",
        "responses": {str(code): {"description": _ERROR_TEXT.get(code, "Recorded.")}
                      for code in (200, *_PING_CODES)},
    }  # fmt: skip
    return item


def document() -> dict[str, Any]:
    """The OpenAPI document served at ``/openapi.json``."""
    exit_code = {"name": "exit_code", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 0, "maximum": 255}}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cronwatch",
            "version": __version__,
            "description": "Record runs of scheduled jobs (ping URLs), read and declare jobs, "
            "read their health. API keys: `cronwatch key create --scope ping|read|write`.",
        },
        "paths": {
            **_api(),
            "/ping/{ping_key}/{name}": _ping("A run succeeded", "pingSuccess"),
            "/ping/{ping_key}/{name}/start": _ping("A run started", "pingStart"),
            "/ping/{ping_key}/{name}/fail": _ping("A run failed", "pingFail"),
            "/ping/{ping_key}/{name}/{exit_code}": _ping(
                "A run ended with this exit code (0: success)", "pingExitCode", [exit_code]
            ),
            "/healthz": {
                "get": {
                    "summary": "Liveness and database reachability",
                    "operationId": "healthz",
                    "responses": {
                        "200": {
                            "description": "Serving.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["status", "alerting"],
                                        "properties": {
                                            "status": {"const": "ok"},
                                            "alerting": {
                                                "type": "object",
                                                "description": "The alert loops' heartbeat "
                                                "(alive, last_heartbeat, age_seconds, loops) "
                                                "and deliveries (pending, retrying, failed).",
                                                "required": ["alive", "last_heartbeat"],
                                            },
                                        },
                                    }
                                }
                            },
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
                    "responses": {
                        "200": {
                            "description": "Prometheus text format 0.0.4.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
