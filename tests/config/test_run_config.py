"""Run configs: every training option checked with its range, no download while checking, defaults with one home."""

import time

import pytest

from cifar_core.config.hparams import TRAINING_HPARAMS
from cifar_core.config.run_config import make_config
from cifar_core.errors import DataError, ParamError


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
