"""Run against run from two stored evaluations: what B fixed and broke, the difference matrix, the
settings side by side, and every refusal. Synthetic arrays and fake model files: nothing trains."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from support import evaluated_run, store_evaluation, synthetic_evaluation

from cifar_core.errors import RunError
from cifar_core.runs.compare import compare_runs, settings_side_by_side
from cifar_core.runs.store import RunStore

NAMES = ["cat", "dog", "bird", "frog"]


def config(**training):
    return {"dataset": "digits", "arch": "seed_cnn", "hparams": {"width": 1.0},
            "training": {"learning_rate": 1e-3, "augment": [], "seed": 0, **training}}


def two_runs(tmp_path, seed_b=1, **training_b):
    store = RunStore(tmp_path)
    labels, probabilities_a = synthetic_evaluation(seed=0)
    _, probabilities_b = synthetic_evaluation(seed=seed_b)
    rng = np.random.default_rng(seed_b)  # B's own mistakes on the same test images
    probabilities_b = rng.permutation(probabilities_b)
    probabilities_b[np.arange(len(labels)), labels] += 0.6
    probabilities_b /= probabilities_b.sum(axis=1, keepdims=True)
    run_a = evaluated_run(store, config(), labels, probabilities_a, NAMES)
    run_b = evaluated_run(store, config(**training_b), labels, probabilities_b, NAMES)
    return store, run_a, run_b, labels, probabilities_a.argmax(1), probabilities_b.argmax(1)


def test_fixed_and_broken_are_the_difference_of_the_correct_images(tmp_path):
    store, run_a, run_b, labels, predictions_a, predictions_b = two_runs(tmp_path, augment=["flip"])
    result = compare_runs(store, run_a, run_b)
    right_a, right_b = predictions_a == labels, predictions_b == labels
    assert len(result["fixed"]) and len(result["broken"])  # the synthetic runs differ both ways
    assert len(result["fixed"]) - len(result["broken"]) == right_b.sum() - right_a.sum()
    assert set(result["fixed"]) == set(np.flatnonzero(right_b & ~right_a))
    assert set(result["broken"]) == set(np.flatnonzero(right_a & ~right_b))
    assert len(result["fixed"]) + len(result["broken"]) + result["both_right"] + result["both_wrong"] == len(labels)
    classes = np.arange(len(NAMES))
    expected = confusion_matrix(labels, predictions_b, labels=classes) - confusion_matrix(labels, predictions_a, labels=classes)
    np.testing.assert_array_equal(result["difference"], expected)
    assert np.trace(result["difference"]) == len(result["fixed"]) - len(result["broken"])
    assert result["accuracy_b"] - result["accuracy_a"] == pytest.approx((right_b.sum() - right_a.sum()) / len(labels))


def test_settings_that_differ_come_first_and_are_marked(tmp_path):
    rows = settings_side_by_side(config(), config(augment=["flip", "shift"], learning_rate=3e-3))
    differing = [(r["setting"], r["a"], r["b"]) for r in rows if r["differs"]]
    assert differing == [("training.augment", "none", "flip, shift"), ("training.learning_rate", 1e-3, 3e-3)]
    assert [r["differs"] for r in rows[:2]] == [True, True] and not any(r["differs"] for r in rows[2:])
    assert {"setting": "arch", "a": "seed_cnn", "b": "seed_cnn", "differs": False} in rows


def test_runs_that_cannot_be_compared_are_refused_with_the_reason(tmp_path):
    store, run_a, run_b, labels, *_ = two_runs(tmp_path)
    with pytest.raises(RunError, match="two different runs"):
        compare_runs(store, run_a, run_a)
    with pytest.raises(RunError, match="no run"):
        compare_runs(store, run_a, "20261206-000000-seed_cnn-abcdef")
    other_dataset = evaluated_run(store, {**config(), "dataset": "fashion_mnist"}, *synthetic_evaluation(), NAMES)
    with pytest.raises(RunError, match="only runs on the same dataset"):
        compare_runs(store, run_a, other_dataset)
    other_split = evaluated_run(store, config(), *synthetic_evaluation(n=400, seed=3), NAMES)
    with pytest.raises(RunError, match="different test splits"):
        compare_runs(store, run_a, other_split)
    queued = store.create(config())
    with pytest.raises(RunError, match="still queued"):
        compare_runs(store, run_a, queued)
    unevaluated = store.create(config())
    (store.path(unevaluated) / "best.keras").write_bytes(b"a model file")
    store.set_status(unevaluated, "completed")
    with pytest.raises(RunError, match="evaluate it first"):
        compare_runs(store, unevaluated, run_b)
    (store.path(run_b) / "best.keras").write_bytes(b"a newer model file")  # its evaluation is now outdated
    with pytest.raises(RunError, match=f"{run_b} has no evaluation of its current model"):
        compare_runs(store, run_a, run_b)
    store_evaluation(store, run_b, labels, synthetic_evaluation(seed=5)[1], NAMES)
    assert compare_runs(store, run_a, run_b)["n"] == len(labels)
