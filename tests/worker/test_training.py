import shutil
import subprocess
import sys
import threading

import keras
import numpy as np
import pytest
from support import ROOT

from cifar_core.config.run_config import make_config
from cifar_core.errors import RunError
from cifar_core.runs.store import RunStore
from cifar_core.server.jobs import JobManager
from cifar_core.worker.evaluation import evaluate_run, load_run_model


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
def test_disk_full_while_saving_fails_the_run_cleanly(tmp_path, trained_run):
    """A file-size limit stands in for a full disk: saving the model fails, earlier runs stay intact."""
    store, earlier = trained_run
    shutil.copytree(store.path(earlier), tmp_path / earlier)
    before = {p.name: p.read_bytes() for p in (tmp_path / earlier).iterdir() if p.is_file()}
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
    assert {p.name: p.read_bytes() for p in (tmp_path / earlier).iterdir() if p.is_file()} == before


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








def test_weights_turned_nan_fail_the_epoch_without_a_checkpoint(tmp_path):
    """Some CPUs clip a NaN probability to a finite loss: the epoch's end still catches the NaN
    weights, fails the run with the reason, and keeps no checkpoint of them."""
    from cifar_core.runs import store as run_store
    from cifar_core.worker.training import TrainingListener, _new_state, _progress_callback
    store = RunStore(tmp_path)
    run_id = store.create(make_config("digits", "seed_cnn"))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.layers[0].kernel.assign(np.full((4, 2), np.nan, np.float32))
    state = _new_state()
    callback = _progress_callback(store, run_id, TrainingListener(), None, state, n_train=64, batch_size=64)
    callback.set_model(model)
    callback.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.5})
    assert "learning rate is probably too high" in state["failed"] and model.stop_training
    assert store.history(run_id)["epochs"][0]["partial"]
    assert not (store.path(run_id) / run_store.LAST_MODEL).exists()
