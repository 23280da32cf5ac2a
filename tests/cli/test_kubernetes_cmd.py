"""``cronwatch import-kubernetes``: CronJob manifests (the documentation's example, several
documents, kubectl's List output) into jobs, printed or merged, the rest reported."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import Result

from cronwatch.config import load_config
from tests.support.cli import invoke as cronwatch

SAMPLES = Path(__file__).parent.parent / "kubernetes" / "samples"


def invoke(*args: str, config: Path | None = None, stdin: str | None = None) -> Result:
    return cronwatch("import-kubernetes", *args, config=config, stdin=stdin)


def jobs_of(result: Result) -> dict[str, dict[str, object]]:
    assert result.exit_code == 0, result.output
    return dict(tomllib.loads(result.stdout)["jobs"])


def test_the_documentations_example() -> None:
    result = invoke(str(SAMPLES / "cronjob.yaml"))
    assert jobs_of(result) == {"default.hello": {"schedule": "* * * * *"}}
    assert '[jobs."default.hello"]' in result.stdout
    assert ("# container hello: busybox:1.28: /bin/sh -c date; echo Hello from the Kubernetes "
            "cluster") in result.stdout  # fmt: skip
    other = invoke("--namespace", "batch", str(SAMPLES / "cronjob.yaml"))
    assert list(jobs_of(other)) == ["batch.hello"]


def test_several_documents_every_field() -> None:
    result = invoke(str(SAMPLES / "several.yaml"))
    assert jobs_of(result) == {
        "reports.nightly-report": {
            "schedule": "30 2 * * *", "timezone": "Europe/Berlin", "grace": "3m 20s",
            "max_runtime": "1h", "paused": True,
            "alert_on": ["missing", "failing", "hung", "too_often"],
        },
        # A CronJob's name may have dots; its namespace never has one.
        "web.sync.feeds": {"schedule": "@hourly", "timezone": "America/New_York", "grace": "2h"},
    }  # fmt: skip
    assert "# concurrencyPolicy: Forbid: two runs at once must not happen" in result.stdout
    assert "# concurrencyPolicy: Replace: a run still going" in result.stdout
    assert "# timezone: from CRON_TZ= in spec.schedule" in result.stdout
    assert (
        f"skipped {SAMPLES / 'several.yaml'}, document 4: apiVersion 'stable.example.com/v1' "
        "is not Kubernetes' CronJob"
    ) in result.stderr
    assert "skipped CronJob broken: spec.schedule: invalid cron expression" in result.stderr
    assert "not CronJobs, left alone: 1 Deployment" in result.stderr


def test_kubectl_get_cronjobs_output_from_stdin(tmp_path: Path) -> None:
    text = (SAMPLES / "kubectl-get-cronjobs.yaml").read_text()
    result = invoke("-", stdin=text)
    assert jobs_of(result) == {
        "default.hello": {"schedule": "* * * * *"},
        "kube-system.etcd-backup": {
            "schedule": "0 */6 * * *", "timezone": "Etc/UTC", "grace": "5m",
            "max_runtime": "30m", "alert_on": ["missing", "failing", "hung", "too_often"],
        },
    }  # fmt: skip
    assert result.stdout.startswith("# Jobs imported from <stdin> by cronwatch import-kubernetes.")
    # The TOML loads, and the schedule is the one Kubernetes has.
    path = tmp_path / "cronwatch.toml"
    path.write_text(result.stdout)
    etcd = load_config(path).jobs["kube-system.etcd-backup"]
    assert etcd.max_runtime == timedelta(minutes=30) and etcd.alert_on is not None
    assert etcd.schedule is not None
    assert etcd.schedule.next_after(datetime(2026, 11, 28, 6, tzinfo=UTC)) == datetime(
        2026, 11, 28, 12, tzinfo=UTC
    )


def test_write_merges(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text('[jobs."default.hello"]\nschedule = "*/5 * * * *"\n')
    result = invoke("--write", str(SAMPLES / "kubectl-get-cronjobs.yaml"), config=config)
    assert result.exit_code == 0, result.output
    assert "added 1 job to" in result.stdout and "kube-system.etcd-backup" in result.stdout
    assert 'job "default.hello" is already in' in result.stderr
    jobs = load_config(config).jobs
    assert jobs["default.hello"].schedule.expression == "*/5 * * * *"  # type: ignore[union-attr]
    assert set(jobs) == {"default.hello", "kube-system.etcd-backup"}


def test_bad_files_are_errors_that_change_nothing(tmp_path: Path) -> None:
    config = tmp_path / "cronwatch.toml"
    config.write_text("")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: CronJob\nspec: [unclosed\n")
    result = invoke("--write", str(bad), config=config)
    assert result.exit_code == 2 and f"{bad}, line 3: not YAML" in result.stderr
    missing = invoke(str(tmp_path / "none.yaml"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    assert config.read_text() == ""
    nothing = invoke("-", stdin="")
    assert nothing.exit_code == 0 and "no CronJobs to import from <stdin>" in nothing.stderr
