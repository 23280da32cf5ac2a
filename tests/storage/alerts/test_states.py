"""The first states of the alert cycle (:meth:`StateStore.insert_states`): written only for a
job that is stored, so that a job deleted after its evaluation leaves no state behind."""

from __future__ import annotations

from cronwatch.alerts.model import Event, JobState
from cronwatch.storage.alerts.states import Flip, StateStore
from cronwatch.storage.connection import Database
from tests.support.alerting import T0


def _state(name: str, hostname: str = "", status: str = "new") -> JobState:
    return JobState(name, hostname, status, "", T0)


def test_a_first_state_is_written_only_for_a_stored_job(db: Database) -> None:
    """A job without a row in ``jobs`` (deleted since the cycle evaluated it) gets no state,
    neither its own nor its hosts': a job recorded later under the name would take it over.
    Its flip, decided from version 0, then changes nothing and raises nothing. A stored job's
    first states are written, and a row another loop wrote first is kept."""
    db.execute(
        "INSERT INTO jobs (name, source, created_us, updated_us) VALUES ('kept', 'run', 0, 0)"
    )
    store = StateStore(db)
    store.insert_states(
        [_state("kept"), _state("kept", "db1", "ok"), _state("gone"), _state("gone", "db1", "ok")],
        T0,
    )
    rows = "name, hostname, status, version, alerting"
    assert db.query(f"SELECT {rows} FROM job_states ORDER BY name, hostname") == [
        ("kept", "", "new", 0, 0),
        ("kept", "db1", "ok", 0, 0),
    ], "a state without its job was written (or a stored job's was not)"

    store.insert_states([_state("kept", status="failed")], T0)  # another loop's, later
    assert store.state("kept") == _state("kept"), "the row written first is kept"

    problem = Event("gone", "", "problem", "new", "failed", "exit 1", "gone failed", T0)
    flip = Flip(0, _state("gone", status="failed"), problem)
    assert store.apply([flip], T0) == []
    assert db.query("SELECT COUNT(*) FROM job_states WHERE name = 'gone'") == [(0,)]
    assert db.query("SELECT COUNT(*) FROM events") == [(0,)], "an event of a state not written"
