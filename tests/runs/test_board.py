"""The class board: the common failures named from a run's history and predictions, a leaderboard
by test accuracy, every run with its owner. Reads only; writes nothing."""

import numpy as np
from support import evaluated_run, synthetic_evaluation

from cifar_core.runs.board import board_rows, failures, leaderboard
from cifar_core.runs.owners import Caller
from cifar_core.runs.store import RunStore

NAMES = ["airplane", "automobile", "bird", "cat"]


def config_of(owner, epochs=6, learning_rate=1e-3):
    return {"dataset": "cifar10", "arch": "seed_cnn", "num_classes": 4, "class_names": NAMES, "n_train": 400,
            "owner": Caller(owner, f"{abs(hash(owner)):016x}"[:16]).owner(),
            "training": {"epochs": epochs, "batch_size": 32, "optimizer": "adam", "learning_rate": learning_rate,
                         "augment": ["flip"]}}


def epochs(losses, val_losses, val_accuracy=0.6):
    return [{"epoch": i + 1, "loss": a, "val_loss": b, "accuracy": 0.7, "val_accuracy": val_accuracy}
            for i, (a, b) in enumerate(zip(losses, val_losses))]


def codes(found):
    return [code for code, _ in found]


def test_a_healthy_run_has_no_failure():
    history = {"epochs": epochs([2.0, 1.6, 1.3, 1.1, 1.0, 0.9], [1.9, 1.6, 1.4, 1.3, 1.25, 1.2])}
    predictions = np.arange(100) % 4  # every class a quarter
    assert failures(config_of("Ann"), {"status": "completed"}, history, predictions) == []


def test_diverged_overfitting_and_not_learning_are_named():
    assert codes(failures(config_of("Ann"), {"status": "failed", "diverged": True}, {"epochs": []})) == ["diverged"]
    assert codes(failures(config_of("Ann"), {}, {"epochs": epochs([1.0, float("nan")], [1.0, 1.0])})) == ["diverged"]
    # Validation loss up three epochs in a row while training loss falls: from epoch 3.
    rising = epochs([2.0, 1.5, 1.2, 1.0, 0.8, 0.6], [1.8, 1.4, 1.3, 1.35, 1.5, 1.7])
    [(code, text)] = failures(config_of("Ann"), {}, {"epochs": rising})
    assert code == "overfitting" and "from epoch 3" in text
    assert failures(config_of("Ann"), {}, {"epochs": rising[:5]}) == []  # two rises only
    stuck = epochs([1.39] * 3, [1.39] * 3, val_accuracy=0.26)  # 4 classes: chance is 25 %
    [(code, text)] = failures(config_of("Ann", epochs=6), {}, {"epochs": stuck})
    assert code == "not_learning" and "26% accuracy after 3 of 6 epochs" in text
    assert failures(config_of("Ann", epochs=8), {}, {"epochs": stuck}) == []  # not halfway yet


def test_one_class_taking_over_the_predictions_is_named():
    predictions = np.array([3] * 41 + [0, 1, 2] * 19 + [0, 1])  # 41 of 100 are "cat"
    [(code, text)] = failures(config_of("Ann"), {}, {"epochs": []}, predictions)
    assert code == "one_class" and "41% of the test images are predicted as cat" in text
    assert failures(config_of("Ann"), {}, {"epochs": []}, np.array([3] * 40 + [0, 1, 2] * 20)) == []


def test_the_board_lists_every_run_with_its_owner_and_ranks_the_evaluated(tmp_path):
    store = RunStore(tmp_path)
    labels, probabilities = synthetic_evaluation(classes=4)
    good = evaluated_run(store, config_of("Ann"), labels, probabilities, NAMES)
    worse = probabilities.copy()
    worse[:, 3] += 2.0  # "cat" for nearly everything
    lopsided = evaluated_run(store, config_of("<b>Bo</b>", learning_rate=0.1), labels, worse / worse.sum(1, keepdims=True),
                             NAMES)
    unevaluated = store.create(config_of("Ann"))
    store.set_status(unevaluated, "completed")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    rows = {r["run_id"]: r for r in board_rows(store)}
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # reading wrote nothing
    assert set(rows) == {good, lopsided, unevaluated}
    assert rows[lopsided]["owner"] == "<b>Bo</b>" and rows[good]["owner"] == "Ann"
    assert rows[unevaluated]["test_accuracy"] is None
    assert codes(rows[lopsided]["failures"]) == ["one_class"] and rows[good]["failures"] == []
    assert [r["run_id"] for r in leaderboard(list(rows.values()))] == [good, lopsided]
    assert rows[good]["test_accuracy"] > rows[lopsided]["test_accuracy"]
