import os
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest
from support import ROOT

from cifar_core.config.hparams import TRAINING_HPARAMS
from cifar_core.config.run_config import make_config
from cifar_core.errors import DataError, ParamError, RunError
from cifar_core.runs.store import RunStore, best_val_accuracy, check_run_id, last_val_accuracy
from cifar_core.server.inspection import evaluate
from cifar_core.server.jobs import JobManager
from cifar_core.worker.evaluation import evaluate_run, load_run_model


def wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_seed_cnn_learns_real_cifar10(cifar_sample, monkeypatch, tmp_path):
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    manager = JobManager(tmp_path)
    run_id = manager.submit("cifar10", "seed_cnn", epochs=3, batch_size=32, learning_rate=1e-3, seed=1)
    assert manager.wait(run_id, timeout=600)["status"] == "completed"
    result = evaluate(manager.store, run_id)
    assert result["n"] == 932 and result["accuracy"] >= 0.30, result["accuracy"]


@pytest.mark.slow
def test_run_folder_holds_everything(trained_run):
    store, run_id = trained_run
    folder = store.path(run_id)
    for name in ("config.json", "status.json", "history.json", "best.keras", "last.keras", "logs"):
        assert (folder / name).exists(), name
    config = store.config(run_id)
    assert config["versions"]["tensorflow"] and config["training"]["seed"] == 1
    history = store.history(run_id)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2] and history["batches"]
    assert any((folder / "logs").rglob("events.out.tfevents.*"))  # tensorboard --logdir runs
    status = store.status(run_id)
    assert status["status"] == "completed" and status["images_per_second"] > 0


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


@pytest.mark.parametrize("run_id", ["../x", "/etc/passwd", "../../etc", "20261122-153000-seed_cnn-1a2b3c/..", ""])
def test_outside_run_ids_are_refused(run_id, tmp_path):
    with pytest.raises(ParamError, match="is not a run id"):
        check_run_id(run_id)
    with pytest.raises(ParamError):
        RunStore(tmp_path).config(run_id)


def test_unknown_run(tmp_path):
    with pytest.raises(RunError, match="There is no run"):
        RunStore(tmp_path).config("20261122-153000-seed_cnn-1a2b3c")


@pytest.mark.parametrize("training, message", [
    ({"epochs": 0}, "Epochs must be between 1 and 500"),
    ({"learning_rate": float("nan")}, "Learning rate must be between"),
    ({"batch_size": 64, "train_size": 50}, "Batch size must be between 1 and 50"),
    ({"train_size": 0}, "Training images must be between 1 and"),
    ({"train_size": 5000}, "Training images must be between 1 and 1005"),
    ({"optimizer": "lbfgs"}, "Optimizer must be one of adam, sgd, rmsprop"),
    ({"augment": "flip,blur"}, "Augmentation must be any of flip"),
    ({"momentum": 0.9}, "Unknown training parameter"),
])
def test_bad_training_options_are_refused(training, message):
    with pytest.raises(ParamError, match=message):
        make_config("digits", "seed_cnn", **training)


@pytest.mark.slow
def test_runs_folder_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunError, match="Cannot create a run"):
        JobManager(blocker / "runs").submit("digits", "seed_cnn", epochs=1)


@pytest.mark.slow
def test_augmented_training_and_preview(tmp_path):
    from cifar_core.data.datasets import load_dataset
    from cifar_core.worker.pipeline import augment_preview
    images = load_dataset("digits").x_train[:3]
    preview = augment_preview(images, ("flip", "shift", "rotation", "zoom"), copies=4, seed=0)
    assert preview.shape == (3, 4, 8, 8, 1) and preview.dtype == np.uint8
    assert not np.array_equal(preview[:, 0], preview[:, 1])
    manager = JobManager(tmp_path)
    run_id = manager.submit("digits", "bn_cnn", epochs=1, train_size=200, augment="flip,rotation")
    assert manager.wait(run_id, timeout=300)["status"] == "completed"


@pytest.mark.slow
def test_disk_full_while_saving_fails_the_run_cleanly(tmp_path):
    """A file-size limit stands in for a full disk: saving the model fails, earlier runs stay intact."""
    manager = JobManager(tmp_path)
    earlier = manager.submit("digits", "small_cnn", epochs=1, train_size=200)
    assert manager.wait(earlier, timeout=300)["status"] == "completed"
    before = {p.name: p.read_bytes() for p in manager.store.path(earlier).iterdir() if p.is_file()}
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))\n"
        "from cifar_core.server.jobs import JobManager\n"
        f"m = JobManager({str(tmp_path)!r})\n"
        "rid = m.submit('digits', 'seed_cnn', epochs=1, train_size=200)\n"
        "print(m.wait(rid, timeout=300)['reason'])\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Cannot save the model" in proc.stdout and "earlier runs are untouched" in proc.stdout, proc.stderr[-2000:]
    failed = [r for r in RunStore(tmp_path).list() if r["run_id"] != earlier][0]
    assert failed["status"] == "failed" and not list(RunStore(tmp_path).path(failed["run_id"]).glob("*.part*"))
    assert {p.name: p.read_bytes() for p in manager.store.path(earlier).iterdir() if p.is_file()} == before


@pytest.mark.slow
def test_a_model_file_with_a_lambda_layer_is_refused(tmp_path, trained_run):
    """Safe mode stays on: a planted .keras with a Lambda layer is refused and its code never runs."""
    import keras
    store, run_id = trained_run
    marker = tmp_path / "ran"
    planted = RunStore(tmp_path / "runs")
    planted_id = planted.create(store.config(run_id))
    inputs = keras.Input((8, 8, 1))
    writes_marker = eval(f"lambda x: x + 0 * len(open({str(marker)!r}, 'w').name)")  # code in the file
    outputs = keras.layers.Lambda(writes_marker)(inputs)
    marker.unlink()
    keras.Model(inputs, outputs).save(planted.path(planted_id) / "best.keras")
    with pytest.raises(RunError, match="cannot be loaded"):
        load_run_model(planted, planted_id)
    assert not marker.exists()


@pytest.mark.slow
def test_gpu_path_trains_with_mixed_precision(tmp_path, monkeypatch):
    # No GPU here: take the branch the product takes where TensorFlow finds one, on tiny data. The
    # worker's training function runs in this process, where the patch applies.
    from cifar_core.worker import training
    monkeypatch.setattr(training, "gpu_available", lambda: True)
    store = RunStore(tmp_path)
    run_id = store.create(make_config("digits", "bn_cnn", epochs=1, batch_size=32, train_size=256,
                                      learning_rate=1e-3))
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(training.train_run(store, run_id)))
    thread.start()  # a worker's executor thread, as on a Dask worker
    thread.join()
    assert outcome["status"] == "completed"
    model = load_run_model(store, run_id)
    assert model.get_layer("block1_conv1").dtype_policy.name == "mixed_float16"
    assert model.get_layer("predictions").dtype_policy.name == "float32"  # probabilities stay float32
    assert 0 <= evaluate_run(store, run_id)["accuracy"] <= 1
    assert keras.config.dtype_policy().name == "float32"  # the policy stayed in the training thread


def test_checking_a_config_never_downloads(offline_cache):
    started = time.monotonic()
    with pytest.raises(DataError, match=r"not on this machine. Run 'python -m cifar_core download cifar10'"):
        make_config("cifar10", "seed_cnn", epochs=1)
    assert time.monotonic() - started < 5
    assert not offline_cache.exists()  # nothing was fetched, not even a partial file


def test_training_defaults_have_one_home():
    from cifar_core.data.splits import DEFAULT_SEED, DEFAULT_VAL_SPLIT
    defaults = {spec.name: spec.default for spec in TRAINING_HPARAMS}
    assert defaults["epochs"] == 8 and defaults["learning_rate"] == 1e-3 and defaults["lr_schedule"] == "one_cycle"
    assert defaults["val_split"] == DEFAULT_VAL_SPLIT and defaults["seed"] == DEFAULT_SEED
    assert make_config("digits", "seed_cnn")["training"]["epochs"] == 8


def test_best_and_last_val_accuracy():
    epochs = [{"val_accuracy": 0.5}, {"val_accuracy": 0.7}, {"val_accuracy": None}, {"val_accuracy": 0.6}, {}]
    assert best_val_accuracy(epochs) == 0.7 and last_val_accuracy(epochs) == 0.6
    assert best_val_accuracy([]) is None and last_val_accuracy([{"val_accuracy": None}]) is None
