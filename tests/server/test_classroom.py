"""A class on one scheduler and one runs folder, served by two job managers (as by two dashboard
processes): owners' rules hold across them, and the teacher's controls reach both."""

import time

import pytest
from support import seed_timings

from cifar_core.config.run_config import make_config
from cifar_core.errors import ParamError, RunError
from cifar_core.runs.classroom import write_controls
from cifar_core.runs.owners import OPERATOR, Caller
from cifar_core.server import estimate, jobs
from cifar_core.server.jobs import JobManager

pytestmark = pytest.mark.slow  # trainings on the workers

ANN, OTHER_ANN = Caller("Ann", "a" * 16), Caller("Ann", "b" * 16)  # one name, two students
TEACHER = Caller("Ms Lee", "c" * 16, teacher=True)
RUN = dict(epochs=40, batch_size=32, train_size=300)


def wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_student_changes_only_their_runs_across_processes_and_the_teacher_stops_any(tmp_path):
    first, second = JobManager(tmp_path), JobManager(tmp_path)
    write_controls(tmp_path, OPERATOR, max_active_per_student=1)
    run = first.submit("digits", "small_cnn", caller=ANN, **RUN)
    with pytest.raises(ParamError, match="The class allows 1 run per student queued or training at once"):
        first.submit("digits", "small_cnn", caller=ANN, **RUN)
    with pytest.raises(ParamError, match="and asked for 2 more"):
        second.sweep("digits", "small_cnn", "learning_rate", [1e-3, 1e-2], caller=OTHER_ANN, **RUN)
    assert [r["run_id"] for r in second.store.list()] == [run]  # refusals leave no folder
    wait_for(lambda: second.progress(run)["epoch"] >= 1)  # the other process reads it from the folder
    for action, verb in ((second.stop, "stop"), (second.delete, "delete")):
        with pytest.raises(RunError, match=f"Run {run} is Ann's run: only its owner or the teacher can {verb} it"):
            action(run, caller=OTHER_ANN)
    with pytest.raises(RunError, match="Only the teacher can stop every run"):
        second.stop_all(OTHER_ANN)
    assert second.store.status(run)["status"] == "running"  # nothing changed
    assert second.stop_all(TEACHER) == 1
    status = first.wait(run, timeout=120)
    assert status["status"] == "stopped" and first.store.config(run)["owner"] == {"name": "Ann", "id": "a" * 16}


def test_a_paused_queue_holds_runs_and_a_student_run_is_fitted_to_the_cap_and_stopped_past_it(tmp_path, monkeypatch):
    monkeypatch.setenv(estimate.TIMINGS_ENV, str(tmp_path / "timings.json"))
    seed_timings(tmp_path / "timings.json", estimate.speed_key(make_config("digits", "small_cnn", batch_size=32)),
                 train_batch=0.05, startup=1.0)
    manager = JobManager(tmp_path / "runs")
    write_controls(manager.store.root, TEACHER, paused=True, student_cap_seconds=30)
    run = manager.submit("digits", "small_cnn", caller=ANN, epochs=500, batch_size=32)
    config = manager.store.config(run)
    fitted = config["training"]["epochs"] * -(-config["n_train"] // 32) * 0.05
    assert 3 <= config["training"]["epochs"] < 500 and fitted <= 30  # fitted as a time budget fits
    time.sleep(2)
    assert manager.progress(run)["status"] == "queued" and manager.queue_position(run) == 1
    assert manager.store.history(run)["epochs"] == []
    monkeypatch.setattr(jobs, "CAP_MARGIN", 0.1)  # stopped 3 s into its training, not 37.5 s
    write_controls(manager.store.root, TEACHER, paused=False)
    status = manager.wait(run, timeout=120)
    assert status["status"] == "stopped" and "class's time cap" in status["reason"], status
