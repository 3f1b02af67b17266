"""The class board: every run of the class with its settings and results, a leaderboard, and the
common failures named in words. Reads the runs folder only (NumPy, no TensorFlow); writes nothing."""

import math

import numpy as np

from cifar_core.data.datasets import class_label
from cifar_core.errors import CoreError
from cifar_core.i18n import _, percent
from cifar_core.runs.curves import overfitting_onset
from cifar_core.runs.owners import owner_of

OVERFITTING_EPOCHS = 3  # validation loss rising this many epochs in a row while training loss falls
CHANCE_FACTOR = 1.5  # "near chance": accuracy below this many times 1 / classes
DOMINANT_SHARE = 0.40  # one class taking more than this share of the test predictions


def failures(config, status, history, predictions=None):
    """The common failures of one run, each as (code, sentence in the reader's language): "diverged",
    "overfitting", "not_learning" and "one_class" (the last needs the test set's `predictions`)."""
    found = []
    epochs = history.get("epochs", [])
    losses = [e.get("loss") for e in epochs] + [b[2] for b in history.get("batches", []) if len(b) > 2]
    if status.get("diverged") or any(isinstance(v, float) and not math.isfinite(v) for v in losses):
        found.append(("diverged", _("Diverged: the loss became NaN or infinite. Lower the learning rate.")))
    onset = overfitting_onset(epochs, rising=OVERFITTING_EPOCHS)
    if onset:
        found.append(("overfitting", _("Overfitting: from epoch {epoch}, validation loss rose for {epochs} epochs "
                                       "while training loss fell. Try dropout, augmentation or fewer epochs.").format(
            epoch=onset - OVERFITTING_EPOCHS, epochs=OVERFITTING_EPOCHS)))
    classes = config.get("num_classes") or len(config.get("class_names", [])) or 10
    halfway = math.ceil(config["training"]["epochs"] / 2)
    if len(epochs) >= halfway:
        record = epochs[halfway - 1]
        accuracy = record.get("val_accuracy", record.get("accuracy"))
        if accuracy is not None and accuracy < CHANCE_FACTOR / classes:
            found.append(("not_learning", _("Not learning: {accuracy} accuracy after {done} of {epochs} epochs, near "
                                            "chance ({chance}). Try another learning rate.").format(
                accuracy=percent(accuracy, 0), done=halfway, epochs=config["training"]["epochs"],
                chance=percent(1 / classes, 0))))
    if predictions is not None and len(predictions):
        shares = np.bincount(np.asarray(predictions), minlength=classes) / len(predictions)
        top = int(shares.argmax())
        if shares[top] > DOMINANT_SHARE:
            names = config.get("class_names") or []
            name = names[top] if top < len(names) else str(top)
            found.append(("one_class", _("One class takes over: {share} of the test images are predicted as "
                                         "{name}.").format(share=percent(shares[top], 0), name=class_label(name))))
    return found


def board_rows(store):
    """One row per run, newest first: owner, settings, validation and test accuracy (None until
    the run is evaluated), training seconds and failures."""
    rows = []
    for summary in store.list():
        run_id = summary["run_id"]
        try:
            config, status, history = store.config(run_id), store.status(run_id), store.history(run_id)
        except CoreError:
            continue  # deleted or damaged meanwhile
        try:
            evaluation = store.evaluation(run_id) if summary["has_model"] else None
        except CoreError:
            evaluation = None  # its model went away meanwhile
        training = config["training"]
        rows.append({
            "run_id": run_id, "owner": owner_of(config).get("name") or "", "owner_id": owner_of(config).get("id"),
            "status": status["status"], "dataset": config["dataset"], "arch": config["arch"],
            "epochs": len(history.get("epochs", [])), "batch_size": training["batch_size"],
            "optimizer": training["optimizer"], "learning_rate": training["learning_rate"],
            "augment": list(training.get("augment", [])), "train_size": config.get("n_train"),
            "best_val_accuracy": summary["best_val_accuracy"],
            "test_accuracy": evaluation["accuracy"] if evaluation else None,
            "train_seconds": status.get("train_seconds"),
            "failures": failures(config, status, history, evaluation["predictions"] if evaluation else None),
        })
    return rows


def leaderboard(rows):
    """The evaluated runs, best test accuracy first (ties: the faster training first)."""
    evaluated = [r for r in rows if r["test_accuracy"] is not None]
    return sorted(evaluated, key=lambda r: (-r["test_accuracy"], r["train_seconds"] or math.inf))
