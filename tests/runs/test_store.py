"""The run store: run ids from outside are refused, unknown runs named, validation accuracies read."""

import pytest

from cifar_core.errors import ParamError, RunError
from cifar_core.runs.store import RunStore, best_val_accuracy, check_run_id, last_val_accuracy


@pytest.mark.parametrize("run_id", ["../x", "/etc/passwd", "../../etc", "20261122-153000-seed_cnn-1a2b3c/..", ""])
def test_outside_run_ids_are_refused(run_id, tmp_path):
    with pytest.raises(ParamError, match="is not a run id"):
        check_run_id(run_id)
    with pytest.raises(ParamError):
        RunStore(tmp_path).config(run_id)


def test_unknown_run(tmp_path):
    with pytest.raises(RunError, match="There is no run"):
        RunStore(tmp_path).config("20261122-153000-seed_cnn-1a2b3c")


def test_best_and_last_val_accuracy():
    epochs = [{"val_accuracy": 0.5}, {"val_accuracy": 0.7}, {"val_accuracy": None}, {"val_accuracy": 0.6}, {}]
    assert best_val_accuracy(epochs) == 0.7 and last_val_accuracy(epochs) == 0.6
    assert best_val_accuracy([]) is None and last_val_accuracy([{"val_accuracy": None}]) is None
