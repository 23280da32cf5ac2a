"""``cronwatch hook start|stop NAME``: one run recorded from two processes, a start and a stop,
as a systemd service's ``ExecStartPre=`` and ``ExecStopPost=`` run them (the drop-in of
``cronwatch import-systemd --wrap``), without touching the service's own command line.

The two processes share nothing but the environment systemd gives them:

- the run id is derived from ``$INVOCATION_ID`` (systemd sets a new one, 128 random bits as 32
  hex digits, each time the unit starts; both hooks of one run see the same), so the stop
  completes the run its start recorded, and a run recorded twice is stored once;
- the stop reads the outcome from ``$SERVICE_RESULT`` (``success``, ``exit-code``,
  ``signal``, ``core-dump``, ``timeout``, ``watchdog``, ``start-limit-hit``, ``resources``,
  ...), ``$EXIT_CODE`` (``exited``, ``killed``, ``dumped``) and ``$EXIT_STATUS`` (the exit
  status, or the signal's name), as systemd.exec(5) documents them for ``ExecStopPost=``:
  success when systemd says ``success``, else a failure with the exit status (128 + N for
  signal N, as a shell and ``cronwatch run`` have it; none when the service never exited,
  e.g. a start-up time-out); those three are kept as the run's output.

Recording goes where ``cronwatch run`` records (the database, or the server of
``$CRONWATCH_URL``), through the same spool when that cannot be reached: a start kept in the
spool lends its start time to the stop, so the run's duration is right once both are sent.
A stop whose start was never recorded (the hooks were installed while the service ran) is a
run of zero length at its end. Whatever fails, the hooks say so on stderr (the journal) and
exit 0 unless they were called wrongly: the service must not suffer from its monitoring.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass

from cronwatch.errors import InvalidInput
from cronwatch.execution import Recording, Say
from cronwatch.model import Outcome, Run
from cronwatch.monitor import make_run
from cronwatch.names import validate_run_id
from cronwatch.paths import recording_target
from cronwatch.spool import Spool
from cronwatch.statsd import StatsdClient
from cronwatch.timeutil import utcnow

INVOCATION_ENV = "INVOCATION_ID"


def hook_run_id(environ: Mapping[str, str], explicit: str | None = None) -> str:
    """The run id the two hooks of one run share: ``explicit`` (``--run-id``), else
    ``systemd-$INVOCATION_ID``; :class:`InvalidInput` when there is neither."""
    if explicit is not None:
        return validate_run_id(explicit, "--run-id")
    invocation = environ.get(INVOCATION_ENV, "").strip()
    if not invocation:
        raise InvalidInput(
            "$INVOCATION_ID is not set, so the start and the stop of a run cannot be paired: "
            "run the hooks from a systemd unit (ExecStartPre=/ExecStopPost=) or pass --run-id"
        )
    return validate_run_id(f"systemd-{invocation}", "$INVOCATION_ID")


@dataclass(frozen=True)
class ServiceOutcome:
    """How systemd says a service ended: the run's outcome, exit code and a line for people."""

    outcome: Outcome
    exit_code: int | None
    words: str


def service_outcome(environ: Mapping[str, str]) -> ServiceOutcome:
    """The outcome ``ExecStopPost=``'s environment describes; :class:`InvalidInput` when
    ``$SERVICE_RESULT`` is not set (not run by systemd as ``ExecStopPost=``)."""
    result = environ.get("SERVICE_RESULT", "").strip()
    if not result:
        raise InvalidInput(
            "$SERVICE_RESULT is not set: `cronwatch hook stop` reads how the service ended "
            "from it, so it must run as the service's ExecStopPost="
        )
    how = environ.get("EXIT_CODE", "").strip()
    status = environ.get("EXIT_STATUS", "").strip()
    words = " ".join(
        f"{key}={value}"
        for key, value in (("SERVICE_RESULT", result), ("EXIT_CODE", how), ("EXIT_STATUS", status))
        if value
    )
    if result == "success":
        return ServiceOutcome("success", None, f"systemd: {words}")
    return ServiceOutcome("failure", _exit_code(how, status), f"systemd: {words}")


def _exit_code(how: str, status: str) -> int | None:
    """The shell's number for how the main process ended: its status, or 128 + the signal."""
    if how == "exited" and status.isdigit() and 1 <= int(status) <= 255:
        return int(status)
    if how in ("killed", "dumped"):
        name = status.upper()
        try:
            number = signal.Signals[name if name.startswith("SIG") else f"SIG{name}"].value
        except KeyError:
            number = int(status) if status.isdigit() else 0
        if 1 <= number <= 127:
            return 128 + number
    return None


def _recording(database_url: str, statsd: StatsdClient | None, spool: Spool | None) -> Recording:
    return Recording(recording_target(database_url), statsd=statsd, spool=spool, say=Say(None))


def hook_start(
    name: str,
    run_id: str,
    *,
    database_url: str,
    hostname: str | None = None,
    statsd: StatsdClient | None = None,
    spool: Spool | None = None,
) -> Run:
    """Record that job ``name`` started now (or keep the start in the spool); the start.
    :class:`InvalidInput` for a bad name, host or run id (nothing recorded)."""
    running = make_run(name, utcnow(), None, outcome="running", hostname=hostname, run_id=run_id)
    _recording(database_url, statsd, spool).start_now(running)
    return running


def hook_stop(
    name: str,
    run_id: str,
    environ: Mapping[str, str],
    *,
    database_url: str,
    hostname: str | None = None,
    statsd: StatsdClient | None = None,
    spool: Spool | None = None,
) -> Run:
    """Record how job ``name``'s run ``run_id`` ended, from systemd's environment (or keep it
    in the spool), then send what the spool holds; the finished run. :class:`InvalidInput`
    when the environment or the arguments are wrong (nothing recorded)."""
    ended = service_outcome(environ)
    recording = _recording(database_url, statsd, spool)
    now = utcnow()
    waiting = recording.spool.waiting(run_id)
    # A stored start keeps its own start time (the database computes the duration from it);
    # one still in the spool lends it here; without either the run has no length.
    started = waiting.date_started if waiting is not None and waiting.name == name else now
    finished = make_run(
        name,
        min(started, now),
        now,
        outcome=ended.outcome,
        exit_code=ended.exit_code,
        hostname=hostname,
        run_id=run_id,
        output=ended.words,
    )
    recording.complete(finished)
    return finished


def read_env_file(path: str) -> dict[str, str]:
    """The ``CRONWATCH_*`` settings of an environment file (``KEY=VALUE`` lines as systemd's
    ``EnvironmentFile=`` reads them: ``#``/``;`` comments, optional quotes around the value);
    other keys are ignored. :class:`InvalidInput` when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read(1 << 20).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"--env-file {path}: cannot read it: {reason}") from None
    found: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if sep and key.startswith("CRONWATCH_"):
            found[key] = value
    return found
