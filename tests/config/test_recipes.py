"""The fast recipe's parts, time estimates and budgets (presets and the settings a recipe gives a run:
test_presets)."""


import numpy as np
import pytest
from support import last_json, seed_timings

from cifar_core.cli.main import main
from cifar_core.config.hparams import TRAINING_HPARAMS, check_all
from cifar_core.config.run_config import make_config
from cifar_core.errors import ParamError
from cifar_core.server import estimate


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


@pytest.mark.slow
def test_fast_cnn_trains_and_tta_evaluates_with_the_mirror_image(tmp_path):
    from cifar_core.server.jobs import JobManager
    from cifar_core.worker.evaluation import load_run_model, predict_batched, predict_with_flip
    manager = JobManager(tmp_path)
    # The fast preset's whitening first layer and crops, on one-channel images the network upsizes.
    run_id = manager.submit("digits", "fast_cnn", {"width": 0.25, "stem": "whiten"}, epochs=2, batch_size=64,
                            learning_rate=3e-3, lr_schedule="one_cycle", label_smoothing=0.1, weight_decay=5e-4,
                            tta=True, augment=["flip", "crop"], seed=2)
    status = manager.wait(run_id, timeout=300)
    assert status["status"] == "completed", status
    assert status["dtype_policy"] in ("float32", "mixed_bfloat16")  # bfloat16 where the CPU has it
    from cifar_core.server.inspection import evaluate
    result = evaluate(manager.store, run_id)
    assert result["tta"] is True and 0 <= result["accuracy"] <= 1
    from cifar_core.data.datasets import load_dataset
    images = load_dataset("digits").x_test[:8]
    model = load_run_model(manager.store, run_id)
    kernel = np.asarray(model.get_layer("stem_whiten").kernel)  # (2, 2, 1, 8): set from the data, saved, loaded
    assert kernel.shape == (2, 2, 1, 8) and np.allclose(kernel[..., 4:], -kernel[..., :4])
    both = predict_with_flip(model, images)
    mirrored = predict_batched(model, np.ascontiguousarray(images[:, :, ::-1]))
    np.testing.assert_allclose(both, (predict_batched(model, images) + mirrored) / 2, atol=1e-5)


def test_estimate_is_arithmetic_over_a_stored_speed(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    config = make_config("digits", "seed_cnn", epochs=4, batch_size=100)
    seed_timings(estimate.timings_path(), estimate.speed_key(config))
    found = estimate.estimate(config)
    steps, val_steps = -(-config["n_train"] // 100), -(-config["n_val"] // 100)
    per_epoch = steps * 0.1 + val_steps * 0.05 + 0.3
    assert found["seconds"] == pytest.approx(3.0 + 4 * per_epoch) and found["measured_now"] is False
    assert estimate.describe_duration(44) == "about 45 s" and estimate.describe_duration(185) == "about 3 min"


def test_a_time_budget_picks_epochs_then_fewer_images(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR_CORE_TIMINGS", str(tmp_path / "timings.json"))
    training = {"epochs": 10, "batch_size": 32}
    seed_timings(estimate.timings_path(), estimate.speed_key(make_config("digits", "seed_cnn", **training)))
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


@pytest.mark.slow
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
