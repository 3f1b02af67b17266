"""The job manager: runs queue, train one at a time, stop, fail and end as their worker left them."""

import os
import signal
import subprocess
import sys
import time

import pytest
from support import ROOT

from cifar_core.errors import RunError
from cifar_core.runs.board import failures
from cifar_core.runs.store import RunStore
from cifar_core.server.inspection import evaluate
from cifar_core.server.jobs import JobManager


def wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_queue_runs_one_at_a_time(tmp_path):
    manager = JobManager(tmp_path)
    first = manager.submit("digits", "small_cnn", epochs=2, batch_size=32, train_size=300)
    second = manager.submit("digits", "small_cnn", epochs=1, batch_size=32, train_size=300)
    assert manager.store.status(second)["status"] == "queued"
    manager.wait(second, timeout=300)
    a, b = manager.store.status(first), manager.store.status(second)
    assert a["status"] == b["status"] == "completed"
    assert b["started"] >= a["started"] + a["train_seconds"] - 1  # one worker: the second waited
    live = manager.progress(first)["batches"]  # (fractional epoch, loss, accuracy), for the charts
    saved = JobManager(tmp_path).progress(first)["batches"]  # as another process reads it from disk
    assert live[-1][0] == pytest.approx(2.0) and saved[-1][0] == pytest.approx(2.0)


@pytest.mark.slow
def test_stop_a_queued_run(tmp_path):
    manager = JobManager(tmp_path)
    first = manager.submit("digits", "small_cnn", epochs=1, batch_size=32, train_size=300)
    second = manager.submit("digits", "small_cnn", epochs=1, batch_size=32, train_size=300)
    assert manager.stop(second)
    status = manager.wait(second, timeout=60)
    assert status["status"] == "stopped" and status["reason"] == "Stopped before it started."
    assert not manager.store.history(second)["epochs"]
    assert manager.wait(first, timeout=300)["status"] == "completed"


@pytest.mark.slow
def test_killed_process_reads_as_interrupted(tmp_path):
    """A training process killed mid-run: its run reads as interrupted, its history is kept."""
    env = dict(os.environ, CIFAR_CORE_RUNS=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "cifar_core", "train", "--dataset", "digits",
                             "--arch", "dropout_cnn", "--epochs", "50", "--batch-size", "8"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = RunStore(tmp_path)
    try:
        wait_for(lambda: store.list() and store.history(store.list()[0]["run_id"])["epochs"], timeout=180)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run_id = store.list()[0]["run_id"]
    status = store.status(run_id)
    assert status["status"] == "interrupted" and "stopped before the run finished" in status["reason"]
    assert store.history(run_id)["epochs"] and store.model_path(run_id) is not None


@pytest.mark.slow
def test_runs_folder_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunError, match="Cannot create a run"):
        JobManager(blocker / "runs").submit("digits", "seed_cnn", epochs=1)


@pytest.mark.slow
def test_stop_mid_epoch_keeps_history_and_model(tmp_path):
    manager = JobManager(tmp_path)
    run_id = manager.submit("digits", "dropout_cnn", epochs=50, batch_size=8, learning_rate=1e-3)
    wait_for(lambda: manager.progress(run_id)["epoch"] >= 1 and manager.progress(run_id)["batch"] >= 3)
    assert manager.stop(run_id)
    status = manager.wait(run_id, timeout=120)
    assert status["status"] == "stopped" and "Stopped" in status["reason"]
    epochs = manager.store.history(run_id)["epochs"]
    assert 2 <= len(epochs) < 50 and epochs[-1]["partial"]
    assert manager.store.model_path(run_id, "last") is not None
    assert 0 <= evaluate(manager.store, run_id)["accuracy"] <= 1  # usable on Evaluate


@pytest.mark.slow
def test_non_finite_loss_fails_the_run(tmp_path):
    manager = JobManager(tmp_path)
    # SGD at a constant 10 in float32: with this seed the loss overflows within three epochs, every
    # time. A rate this high is chaotic (with some seeds every ReLU dies first and the loss stays finite
    # at chance level), but one seed's run is the same run on any machine load: no retries needed.
    run_id = manager.submit("digits", "seed_cnn", epochs=3, batch_size=64, optimizer="sgd", learning_rate=10.0,
                            lr_schedule="constant", precision="float32", seed=1)
    status = manager.wait(run_id, timeout=120)
    assert status["status"] == "failed" and "learning rate is probably too high" in status["reason"]
    assert manager.progress(run_id)["status"] == "failed"
    store = manager.store  # the class board names it
    codes = [code for code, _ in failures(store.config(run_id), status, store.history(run_id))]
    assert status["diverged"] is True and "diverged" in codes


@pytest.mark.slow
def test_early_stopping_restores_best(tmp_path):
    manager = JobManager(tmp_path)
    run_id = manager.submit("digits", "seed_cnn", epochs=40, batch_size=16, train_size=60,
                            learning_rate=3e-3, patience=1, seed=3)
    status = manager.wait(run_id, timeout=300)
    epochs = manager.store.history(run_id)["epochs"]
    assert status["status"] == "completed" and len(epochs) < 40 and "Early stopping" in status["reason"]
    best = min(range(len(epochs)), key=lambda i: epochs[i]["val_loss"]) + 1
    assert status["best_epoch"] == best
