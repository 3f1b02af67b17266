"""Run against run: what one change fixed and what it broke, image by image, on the same test images.

Both runs' stored evaluations are read from the runs folder (`RunStore.evaluation`); nothing here
asks a worker. Run A is the reference and run B the change: "fixed" images are those B labels
right and A wrong, "broken" the reverse, and the difference matrix is B's confusion matrix minus A's.
"""

import numpy as np

from cifar_core.errors import RunError
from cifar_core.i18n import _, number

# What a run's settings are, in the order a lab report lists them; the rest of a config describes
# the dataset or the libraries (the same for two comparable runs) or is bookkeeping.
_SETTINGS = ("dataset", "arch", "preset", "n_train", "n_val")


def settings(config):
    """A run config's settings as flat {name: value}: dataset, architecture, its hyperparameters
    (`hparams.width`) and the training settings (`training.learning_rate`)."""
    flat = {name: config.get(name) for name in _SETTINGS}
    for group in ("hparams", "training"):
        for name, value in sorted((config.get(group) or {}).items()):
            if isinstance(value, list):  # augmentations: one readable cell
                value = ", ".join(map(str, value)) or _("none")
            flat[f"{group}.{name}"] = value
    return flat


def settings_side_by_side(config_a, config_b):
    """[{setting, a, b, differs}] over the settings of either run, those that differ first."""
    a, b = settings(config_a), settings(config_b)
    rows = [{"setting": name, "a": a.get(name), "b": b.get(name), "differs": a.get(name) != b.get(name)}
            for name in dict.fromkeys([*a, *b])]
    return sorted(rows, key=lambda row: not row["differs"])  # stable: each group keeps its order


def _evaluated(store, run_id):
    """The run's stored evaluation of its current best model, or a one-line error saying what to do."""
    store.require(run_id)
    status = store.status(run_id)["status"]
    if status == "queued":
        raise RunError(_("Run {run_id} is still queued: compare it once it has trained an epoch.").format(
            run_id=run_id))
    store.model_stamp(run_id)  # a run without a saved model says so
    result = store.evaluation(run_id)
    if result is None:
        raise RunError(_("Run {run_id} has no evaluation of its current model yet: evaluate it first (the Evaluate "
                         "page, or python -m cifar_core evaluate {run_id}).").format(run_id=run_id))
    return result


def compare_runs(store, run_a, run_b):
    """Compare two evaluated runs of one dataset and test split, A the reference and B the change.

    Returns {run_a, run_b, class_names, n, accuracy_a, accuracy_b, labels, predictions_a,
    predictions_b, fixed, broken (ascending test-image indices), both_right, both_wrong (counts),
    difference (B's confusion matrix minus A's, int), settings (`settings_side_by_side`)}.
    Refuses, with the reason, runs that are unknown, queued, unevaluated, or of different test images.
    """
    if run_a == run_b:
        raise RunError(_("Choose two different runs to compare."))
    config_a, config_b = store.config(run_a), store.config(run_b)
    if config_a.get("dataset") != config_b.get("dataset"):
        raise RunError(_("Run {run_a} was trained on {dataset_a} and run {run_b} on {dataset_b}: only runs on the "
                         "same dataset share test images to compare.").format(
            run_a=run_a, dataset_a=config_a.get("dataset"), run_b=run_b, dataset_b=config_b.get("dataset")))
    a, b = _evaluated(store, run_a), _evaluated(store, run_b)
    if a["n"] != b["n"] or list(a["class_names"]) != list(b["class_names"]) or not np.array_equal(a["labels"], b["labels"]):
        raise RunError(_("Runs {run_a} and {run_b} were evaluated on different test splits ({n_a} and {n_b} "
                         "images): only runs evaluated on the same test images can be compared.").format(
            run_a=run_a, run_b=run_b, n_a=number(a['n']), n_b=number(b['n'])))
    labels = np.asarray(a["labels"])
    right_a, right_b = np.asarray(a["predictions"]) == labels, np.asarray(b["predictions"]) == labels
    return {
        "run_a": run_a, "run_b": run_b, "class_names": list(a["class_names"]), "n": int(a["n"]),
        "accuracy_a": float(right_a.mean()), "accuracy_b": float(right_b.mean()),
        "labels": labels, "predictions_a": np.asarray(a["predictions"]), "predictions_b": np.asarray(b["predictions"]),
        "fixed": np.flatnonzero(~right_a & right_b), "broken": np.flatnonzero(right_a & ~right_b),
        "both_right": int(np.sum(right_a & right_b)), "both_wrong": int(np.sum(~right_a & ~right_b)),
        "difference": (np.asarray(b["confusion_matrix"], dtype=np.int64) - np.asarray(a["confusion_matrix"], dtype=np.int64)),
        "settings": settings_side_by_side(config_a, config_b),
    }
