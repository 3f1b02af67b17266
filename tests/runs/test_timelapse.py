"""Reading the time-lapse: each epoch's validation confusion matrix from the stored predictions, the
recorded range, and runs recorded before the predictions existed (NumPy only, no training)."""

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from cifar_core.errors import RunError
from cifar_core.runs import timelapse

FILTERS = np.zeros((4, 3, 3, 3), np.uint8)


def record(folder, epochs, labels, seed=0, predictions=True):
    """Snapshots of `epochs` as the recorder writes them, predicting `labels` better each epoch."""
    rng = np.random.default_rng(seed)
    store = folder / timelapse.FOLDER
    if predictions:
        timelapse.write_validation(store, np.arange(len(labels)) * 3, labels)
    predicted = {}
    for epoch in epochs:
        guess = np.where(rng.random(len(labels)) < epoch / max(epochs), labels, rng.integers(0, 4, len(labels)))
        extra = {"val_predicted": guess.astype(np.uint8),
                 "val_confidence": rng.random(len(labels)).astype(np.float16)} if predictions else {}
        timelapse.write_snapshot(store, epoch, FILTERS, {}, extra)
        predicted[epoch] = guess
    return predicted


def test_each_recorded_epoch_gives_its_validation_confusion_matrix(tmp_path):
    labels = np.random.default_rng(1).integers(0, 4, 300)
    predicted = record(tmp_path, [0, 2, 4, 5], labels)
    assert timelapse.prediction_epochs(tmp_path) == [0, 2, 4, 5]
    epochs, matrices = timelapse.confusion_over_epochs(tmp_path, 4)
    assert epochs == [0, 2, 4, 5] and matrices.shape == (4, 4, 4)
    for epoch, matrix in zip(epochs, matrices):
        assert np.array_equal(matrix, confusion_matrix(labels, predicted[epoch], labels=range(4)))
    summaries = timelapse.epoch_summaries(tmp_path, 4)
    assert summaries[-1]["val_accuracy"] == pytest.approx(np.mean(predicted[5] == labels)) == 1.0
    assert timelapse.read_validation(tmp_path)["rows"][-1] == 897


def test_an_epoch_not_recorded_is_refused_with_the_range(tmp_path):
    record(tmp_path, [0, 2, 4, 5], np.zeros(20, np.uint8))
    with pytest.raises(RunError, match=r"^Epoch 3 was not recorded: .* epochs 0 to 5, every 2 \(and the last\)"):
        timelapse.epoch_predictions(tmp_path, 3)


def test_a_run_recorded_before_the_predictions_has_none_and_says_so(tmp_path):
    record(tmp_path, [0, 1, 2], np.zeros(20, np.uint8), predictions=False)
    assert timelapse.recorded_epochs(tmp_path) == [0, 1, 2]  # its maps and filters are still there
    assert timelapse.prediction_epochs(tmp_path) == [] and timelapse.epoch_summaries(tmp_path, 4) == []
    with pytest.raises(RunError, match="trained before they were recorded"):
        timelapse.epoch_predictions(tmp_path, 1)


def test_recorded_epochs_are_described_as_a_person_would():
    assert timelapse.describe_epochs([0, 1, 2, 3]) == "0 to 3"
    assert timelapse.describe_epochs([0, 3, 6, 7]) == "0 to 7, every 3 (and the last)"
    assert timelapse.describe_epochs([0, 4]) == "0, 4"
