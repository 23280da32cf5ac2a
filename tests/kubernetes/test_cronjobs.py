"""A CronJob into the job that watches it: what cannot be watched is said, macros and "?"."""

from __future__ import annotations

import pytest

from cronwatch.errors import InvalidInput
from cronwatch.kubernetes.cronjobs import cronjob_job
from cronwatch.kubernetes.manifests import read_manifests


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({}, "spec.schedule: missing"),
        ({"schedule": "TZ=Asia/Tokyo 0 9 * * *", "timeZone": "UTC"}, "Kubernetes refuses both"),
        ({"schedule": "0 9 * * *", "timeZone": "Mars/Base"}, "unknown timezone"),
        ({"schedule": "0 9 * * *", "startingDeadlineSeconds": "10"}, "whole number of seconds"),
        ({"schedule": "0 9 * * *", "jobTemplate": []}, "spec.jobTemplate: expected a mapping"),
    ],
)
def test_what_cannot_be_watched_is_said(spec: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        cronjob_job({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"},
                     "spec": spec})  # fmt: skip


def test_other_macros_and_question_marks() -> None:
    def schedule_of(text: str) -> object:
        job = cronjob_job({"metadata": {"name": "x"}, "spec": {"schedule": text}})
        return dict(job.fields)["schedule"]

    assert schedule_of("@every 90m") == "every 1h30m"
    assert schedule_of("0 0 ? * MON") == "0 0 * * MON"


def test_documents_that_are_no_objects_are_said() -> None:
    assert read_manifests("- 1\n- 2\n", "x").skipped == [
        ("x, document 1", "not a Kubernetes object but a list")
    ]
