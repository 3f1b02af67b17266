"""Confident mistakes and calibration, from stored probabilities (NumPy only, no training)."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, log_loss
from support import synthetic_evaluation

from cifar_core.runs.mistakes import most_confused, reliability, top_losses


def test_the_reliability_bins_add_up_to_the_test_set_and_measure_the_gap():
    labels, probabilities = synthetic_evaluation(n=800, classes=4, seed=3)
    bins = reliability(labels, probabilities.argmax(1), probabilities.max(1))
    assert bins["counts"].sum() == 800 and len(bins["counts"]) == 10
    filled = bins["counts"] > 0
    right = probabilities.argmax(1) == labels
    assert np.sum(bins["accuracy"][filled] * bins["counts"][filled]) == pytest.approx(right.sum())
    assert np.all((bins["confidence"][filled] > bins["edges"][:-1][filled])
                  & (bins["confidence"][filled] <= bins["edges"][1:][filled]))
    # A network that is always 95 % sure and right half the time is off by 0.45.
    sure = np.full((100, 2), 0.05)
    sure[np.arange(100), np.arange(100) % 2] = 0.95
    assert reliability(np.zeros(100, int), sure.argmax(1), sure.max(1))["ece"] == pytest.approx(0.45)


def test_top_losses_are_the_mistakes_sorted_by_their_loss():
    labels, probabilities = synthetic_evaluation(n=500, classes=4, seed=1)
    losses = top_losses(labels, probabilities)
    wrong = np.flatnonzero(probabilities.argmax(1) != labels)
    assert sorted(item["index"] for item in losses) == sorted(wrong.tolist())
    assert all(a["loss"] >= b["loss"] for a, b in zip(losses, losses[1:]))
    first = losses[0]
    assert first["loss"] == pytest.approx(log_loss([labels[first["index"]]], probabilities[[first["index"]]],
                                                   labels=range(4)), rel=1e-5)
    assert first["predicted"] != labels[first["index"]] and first["confidence"] > first["true_probability"]
    assert len(top_losses(labels, probabilities, count=5)) == 5


def test_most_confused_agrees_with_the_confusion_matrix():
    labels, probabilities = synthetic_evaluation(n=500, classes=4, seed=2)
    names = ["cat", "dog", "bird", "frog"]
    matrix = confusion_matrix(labels, probabilities.argmax(1), labels=range(4))
    pairs = most_confused(matrix, names)
    assert sum(count for _, _, count in pairs) == matrix.sum() - np.trace(matrix)
    true, predicted, count = pairs[0]
    assert count == (matrix - np.diag(np.diag(matrix))).max() == matrix[names.index(true), names.index(predicted)]
    assert all(a[2] >= b[2] for a, b in zip(pairs, pairs[1:])) and all(t != p for t, p, _ in pairs)
    assert all(c >= 3 for _, _, c in most_confused(matrix, names, min_count=3))
