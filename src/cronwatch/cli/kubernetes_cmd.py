"""``cronwatch import-kubernetes FILE|-``: jobs from Kubernetes CronJob manifests, printed as
TOML or merged into the config file.

Contract:

- Input: a file of YAML (or JSON) documents, ``-`` for standard input (``kubectl get cronjobs
  -A -o yaml | cronwatch import-kubernetes -``): CronJobs of ``batch/v1`` or ``batch/v1beta1``,
  alone or in ``List`` kinds; other kinds are counted on stderr and left alone.
- Output: ``[jobs.NAMESPACE.NAME]`` tables (see :mod:`cronwatch.kubernetes.cronjobs`) on
  stdout, or merged into the config file with ``--write`` (jobs already there are left as
  they are).
- A CronJob that cannot be watched is reported on stderr and skipped. Exit status 0, or 2 on
  an error (``cronwatch: error: ...``: not YAML, unreadable), in which case nothing changed.
"""

from __future__ import annotations

import sys

import click

from cronwatch.cli.common import fail
from cronwatch.cli.importing import config_for_write, merge_and_report, write_option
from cronwatch.errors import InvalidInput

STDIN = "-"


@click.command("import-kubernetes")
@click.argument("file", metavar="FILE|-")
@write_option
@click.option(
    "--namespace",
    default="default",
    show_default=True,
    metavar="NS",
    help="The namespace of CronJobs whose manifest names none (as kubectl -n would apply them).",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="The zone of schedules without spec.timeZone or CRON_TZ= (the kube-controller-"
    "manager's local time, UTC in most clusters).",
)
@click.pass_context
def import_kubernetes(
    ctx: click.Context, file: str, write: bool, namespace: str, timezone: str
) -> None:
    """Turn Kubernetes CronJobs into [jobs.NAME] tables of the config file.

    Each CronJob becomes job NAMESPACE.NAME (job names cannot hold '/'): its schedule and
    time zone, suspend as paused, startingDeadlineSeconds as grace, the job's
    activeDeadlineSeconds as max_runtime, concurrencyPolicy Forbid as too_often alerting.

    \b
        kubectl get cronjobs -A -o yaml | cronwatch import-kubernetes -
        cronwatch --config cronwatch.toml import-kubernetes --write cronjobs.yaml
    """
    from cronwatch.kubernetes.cronjobs import cronjob_job
    from cronwatch.kubernetes.manifests import read_manifests
    from cronwatch.schedule import load_zone

    config_path = config_for_write(ctx, "import-kubernetes") if write else None
    load_zone(timezone, field="--timezone")  # the library's errors: the group says them
    source, text = _read(file)
    found = read_manifests(text, source)
    jobs = []
    for cronjob in found.cronjobs:
        try:
            jobs.append(
                cronjob_job(cronjob, default_namespace=namespace, default_timezone=timezone)
            )
        except InvalidInput as exc:
            found.skipped.append((_label(cronjob), str(exc)))
    for what, why in found.skipped:
        click.echo(f"cronwatch: skipped {what}: {why}", err=True)
    if found.others:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(found.others.items()))
        click.echo(f"cronwatch: note: not CronJobs, left alone: {kinds}", err=True)
    if not jobs:
        click.echo(f"cronwatch: no CronJobs to import from {source}", err=True)
        return
    header = [
        f"Jobs imported from {source} by cronwatch import-kubernetes.",
        "Runs are recorded by `cronwatch run NAME -- COMMAND` as the container's command, or",
        "by curl to a ping URL (see the README: Kubernetes CronJobs).",
    ]
    if config_path is not None:
        merge_and_report(config_path, jobs, header)
        return
    from cronwatch.configmerge import jobs_to_toml

    click.echo(jobs_to_toml(jobs, header=header), nl=False)


def _label(cronjob: dict[str, object]) -> str:
    metadata = cronjob.get("metadata")
    if isinstance(metadata, dict):
        return f"CronJob {metadata.get('namespace', '')}/{metadata.get('name')}".replace(" /", " ")
    return "a CronJob without metadata"


def _read(file: str) -> tuple[str, str]:
    """``(how to name the source in messages, its text)``; exits with a clear error."""
    try:
        if file == STDIN:
            if sys.stdin is None:
                fail("cannot read standard input: it is closed")
            return "<stdin>", sys.stdin.buffer.read().decode("utf-8")
        with open(file, "rb") as handle:
            return file, handle.read().decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    raise AssertionError("unreachable")
