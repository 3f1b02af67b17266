"""The fast recipe's parts, time estimates and budgets, presets on the CLI, and ready-made runs."""

import json

import numpy as np
import pytest

from cifar_core.cli.main import main
from cifar_core.config.hparams import TRAINING_HPARAMS, check_all
from cifar_core.config.presets import PRESETS, preset_settings
from cifar_core.config.run_config import make_config
from cifar_core.errors import ParamError
from cifar_core.server import estimate


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def test_new_training_options_are_checked():
    values = check_all(TRAINING_HPARAMS, {"lr_schedule": "cosine", "tta": "on", "label_smoothing": "0.1"}, "training")
    assert values["lr_schedule"] == "cosine" and values["tta"] is True and values["label_smoothing"] == 0.1
    for bad, message in (({"lr_schedule": "step"}, "Learning-rate schedule must be one of constant, cosine"),
                         ({"tta": "maybe"}, "Test-time flip must be on or off"),
                         ({"weight_decay": 0.5}, "Weight decay must be between 0 and 0.1")):
        with pytest.raises(ParamError, match=message):
            check_all(TRAINING_HPARAMS, bad, "training")


def test_one_cycle_warms_up_then_decays_to_zero():
    from cifar_core.worker.training import learning_rate_schedule
    schedule = learning_rate_schedule("one_cycle", 0.01, 100)
    rates = [float(schedule(step)) for step in (0, 10, 20, 60, 100)]
    assert rates[0] == pytest.approx(0.0004) and rates[1] < rates[2] == pytest.approx(0.01)
    assert rates[2] > rates[3] > rates[4] and rates[4] < 1e-6
    assert learning_rate_schedule("constant", 0.01, 100) == 0.01


def test_label_smoothing_loss_matches_the_categorical_one():
    import keras

    from cifar_core.worker.models import SparseCrossentropy
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 2])
    expected = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(np.eye(3)[labels], probs)
    assert float(SparseCrossentropy(3, 0.1)(labels, probs)) == pytest.approx(float(expected), rel=1e-5)


def test_fast_cnn_trains_and_tta_evaluates_with_the_mirror_image(tmp_path):
    from cifar_core.server.jobs import JobManager
    from cifar_core.worker.evaluation import load_run_model, predict_batched, predict_with_flip
    manager = JobManager(tmp_path)
    run_id = manager.submit("digits", "fast_cnn", {"width": 0.25}, epochs=2, batch_size=64, learning_rate=3e-3,
                            lr_schedule="one_cycle", label_smoothing=0.1, weight_decay=5e-4, tta=True,
                            augment=["flip"], seed=2)
    status = manager.wait(run_id, timeout=300)
    assert status["status"] == "completed", status
    assert status["dtype_policy"] in ("float32", "mixed_bfloat16")  # bfloat16 where the CPU has it
    from cifar_core.server.inspection import evaluate
    result = evaluate(manager.store, run_id)
    assert result["tta"] is True and 0 <= result["accuracy"] <= 1
    from cifar_core.data.datasets import load_dataset
    images = load_dataset("digits").x_test[:8]
    model = load_run_model(manager.store, run_id)
    both = predict_with_flip(model, images)
    mirrored = predict_batched(model, np.ascontiguousarray(images[:, :, ::-1]))
    np.testing.assert_allclose(both, (predict_batched(model, images) + mirrored) / 2, atol=1e-5)


def _seed_timings(config, **speed):
    """Store a speed for `config`'s settings, as a calibration would."""
    measured = {"train_batch": 0.1, "val_batch": 0.05, "epoch_overhead": 0.3, "startup": 3.0, "dtype_policy": "float32",
                **speed}
    path = estimate.timings_path()
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[estimate.speed_key(config)] = measured
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings))


def test_estimate_is_arithmetic_over_a_stored_speed(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    config = make_config("digits", "seed_cnn", epochs=4, batch_size=100)
    _seed_timings(config)
    found = estimate.estimate(config)
    steps, val_steps = -(-config["n_train"] // 100), -(-config["n_val"] // 100)
    per_epoch = steps * 0.1 + val_steps * 0.05 + 0.3
    assert found["seconds"] == pytest.approx(3.0 + 4 * per_epoch) and found["measured_now"] is False
    assert estimate.describe_duration(44) == "about 45 s" and estimate.describe_duration(185) == "about 3 min"


def test_a_time_budget_picks_epochs_then_fewer_images(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    training = {"epochs": 10, "batch_size": 32}
    _seed_timings(make_config("digits", "seed_cnn", **training))
    roomy, found = estimate.fit_to_budget("digits", "seed_cnn", {}, training, 10_000)
    assert roomy["epochs"] == 10 and roomy["train_size"] is None
    chosen, _ = estimate.fit_to_budget("digits", "seed_cnn", {}, {**training, "train_size": 500}, 10_000)
    assert chosen["train_size"] == 500  # a number of images chosen stays when it fits
    with pytest.raises(ParamError, match="A time budget must be more than 0"):
        estimate.fit_to_budget("digits", "seed_cnn", {}, training, 0)
    fewer, found = estimate.fit_to_budget("digits", "seed_cnn", {}, training, 20)
    assert 3 <= fewer["epochs"] < 10 and fewer["train_size"] is None and found["seconds"] <= 20
    small, found = estimate.fit_to_budget("digits", "seed_cnn", {}, training, 8)
    assert small["epochs"] == 3 and small["train_size"] < 1005 and found["seconds"] <= 8
    with pytest.raises(ParamError, match="too short"):
        estimate.fit_to_budget("digits", "seed_cnn", {}, training, 3)


def test_dry_run_measures_once_and_trains_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    args = ["train", "--dataset", "digits", "--arch", "small_cnn", "--epochs", "3", "--dry-run",
            "--runs-dir", str(tmp_path / "runs")]
    assert main([*args, "--json"]) == 0
    found = last_json(capsys.readouterr().out)
    assert found["measured_now"] is True and found["seconds"] > found["startup"] > 0
    assert found["training"]["epochs"] == 3 and not (tmp_path / "runs").exists()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Estimated time on this machine: about" in out and "Nothing was trained" in out
    assert main([*args, "--json"]) == 0 and last_json(capsys.readouterr().out)["measured_now"] is False


def test_preset_flags_override_and_presets_come_in_two_versions():
    dataset, arch, hparams, training = preset_settings("plain_cnn_full", epochs=3, hparams={"width": 0.5})
    assert (dataset, arch, training["epochs"], training["learning_rate"]) == ("cifar10", "seed_cnn", 3, 1e-4)
    assert hparams == {"width": 0.5}
    assert preset_settings("fast", arch="seed_cnn")[2] == {}  # fast_cnn's width is not the plain CNN's
    for name, preset in PRESETS.items():
        if preset["notebook"]:
            other = name[:-5] if name.endswith("_full") else f"{name}_full"
            assert PRESETS[other]["notebook"] == preset["notebook"]
    assert PRESETS["plain_cnn"]["budget_seconds"] <= 300 and PRESETS["plain_cnn_full"]["budget_seconds"] is None


def test_unknown_preset_is_refused_with_the_list(capsys):
    assert main(["train", "--preset", "fastest", "--dry-run"]) == 2
    assert "Unknown preset 'fastest'. Choose one of: fast, plain_cnn" in capsys.readouterr().err


def test_prepare_trains_class_presets_once_and_skips_what_it_cannot(capsys, tmp_path, monkeypatch, tiny_cifar):
    # A stored speed this slow makes the class budget fit a few epochs on a few images: a real run,
    # on the small archive, in seconds.
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    monkeypatch.delenv("FASHION_MNIST_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    dataset, arch, hparams, training = preset_settings("plain_cnn")
    _seed_timings(make_config(dataset, arch, hparams, **training), train_batch=30.0, startup=5.0)
    runs = tmp_path / "runs"
    assert main(["prepare", "--preset", "plain_cnn", "--preset", "fashion", "--preset", "vgg16",
                 "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "Skipped fashion: Fashion-MNIST is not on this machine" in out
    assert "Skipped vgg16: VGG16's ImageNet weights are not on this machine" in out
    assert "plain_cnn: completed" in out
    from cifar_core.runs.store import RunStore
    from cifar_core.server.prepare import ready_runs
    store = RunStore(runs)
    rows = store.list()
    ready = ready_runs(rows, {r["run_id"]: store.config(r["run_id"]) for r in rows})
    assert [r["preset"] for r in ready] == ["plain_cnn"]
    config = store.config(ready[0]["run_id"])
    assert config["training"]["epochs"] == 3 and config["n_train"] < 140  # fitted to the budget
    assert main(["prepare", "--preset", "plain_cnn", "--runs-dir", str(runs)]) == 0
    assert "Skipped plain_cnn: already trained" in capsys.readouterr().out and len(store.list()) == 1
