"""The time-lapse: a small fixed probe and the validation predictions, recorded after every epoch.

After each epoch (and once before the first, when the weights are still noise):
- for about 8 test images (one per class where possible), the first convolution's activated maps,
  one deeper layer's, and their Grad-CAM at the last convolution for the true and the predicted
  class; and the first layer's filters;
- the class predicted for every validation image, with its confidence: a confusion matrix per epoch.

Everything is stored small (8-bit maps, downsampled and capped in channels) in
`timelapse/epoch_NNNN.npz` of the run's folder, within `BUDGET_BYTES` per run, with the validation
images' rows and labels once in `timelapse/validation.npz`. Recording runs in the training worker
(`cifar_core.worker.timelapse`); this module needs NumPy and scikit-learn only, so the web server can
read and draw it. Runs recorded before the predictions and Grad-CAM were added have the maps only.
"""

import json
import math
import re
import zipfile

import numpy as np

from cifar_core.errors import RunError
from cifar_core.i18n import _

FOLDER = "timelapse"
PROBE = "probe.json"
VALIDATION = "validation.npz"
BUDGET_BYTES = 20 * 1024 * 1024  # per run, all epochs together (stated in the README)
PROBE_IMAGES = 8
MAX_CHANNELS = 16  # per layer: the first 16 feature maps
MAX_SIDE = 16  # maps larger than 16×16 are average-pooled down to it
_EPOCH_FILE = re.compile(r"epoch_(\d{4})\.npz$")


def probe_indices(labels, count=PROBE_IMAGES):
    """Test-set rows of the probe: the first image of each class in class order, then the next
    images of each class in turn, until `count` (fixed by the labels alone: the same every epoch)."""
    labels = np.asarray(labels)
    per_class = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked = []
    while len(picked) < min(count, len(labels)):
        for rows in per_class:
            if rows and len(picked) < count:
                picked.append(int(rows.pop(0)))
    return picked


def quantise_maps(values):
    """Float maps (N, H, W, C) to uint8 with one [low, high] range per channel over the N images
    (so a channel's maps compare across images), after pooling to at most MAX_SIDE per side and
    keeping the first MAX_CHANNELS channels. Returns (uint8 maps, float32 (C, 2) ranges)."""
    values = np.asarray(values, dtype=np.float32)[..., :MAX_CHANNELS]
    n, height, width, channels = values.shape
    factor = max(1, math.ceil(max(height, width) / MAX_SIDE))
    if factor > 1:
        h, w = height // factor, width // factor
        values = values[:, :h * factor, :w * factor].reshape(n, h, factor, w, factor, channels).mean(axis=(2, 4))
    low = values.min(axis=(0, 1, 2))
    high = values.max(axis=(0, 1, 2))
    span = np.where(high > low, high - low, 1.0)
    with np.errstate(invalid="ignore"):  # a diverged run's maps hold NaN or infinities: drawn as 0
        quantised = np.round(np.nan_to_num(255 * (values - low) / span)).clip(0, 255).astype(np.uint8)
    return quantised, np.stack([low, high], axis=1).astype(np.float32)


def epochs_to_record(epochs, bytes_per_epoch, budget=BUDGET_BYTES):
    """The epochs (0 = before training) whose snapshots fit the budget: every epoch when they all
    fit, else every k-th, always with the first and the last."""
    stride = max(1, math.ceil((epochs + 1) * bytes_per_epoch / budget))
    return sorted(set(range(0, epochs + 1, stride)) | {epochs})


def _write_npz(path, arrays):
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tmp.replace(path)  # a reader never sees half a file
    return path.stat().st_size


def write_snapshot(folder, epoch, filters, maps, extra=None):
    """Write one epoch's snapshot: uint8 filters, {layer role: (uint8 maps, ranges)}, and the `extra`
    arrays (`val_predicted`, `val_confidence`, `cam`, `cam_classes`). Returns its size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"filters": filters, **(extra or {})}
    for role, (quantised, ranges) in maps.items():
        arrays[f"{role}_maps"], arrays[f"{role}_ranges"] = quantised, ranges
    return _write_npz(folder / f"epoch_{epoch:04d}.npz", arrays)


def write_validation(folder, rows, labels):
    """Write which training-set rows the run validates on, and their labels, in prediction order."""
    folder.mkdir(parents=True, exist_ok=True)
    _write_npz(folder / VALIDATION, {"rows": np.asarray(rows, np.int32), "labels": np.asarray(labels, np.uint8)})


def recorded_epochs(run_folder):
    """The epochs with a snapshot, in order (0 is before training)."""
    folder = run_folder / FOLDER
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _EPOCH_FILE.match(p.name)))


def read_probe(run_folder):
    """{indices, layers: {role: layer name}} of the run's probe, or None before it is written."""
    try:
        return json.loads((run_folder / FOLDER / PROBE).read_text())
    except (OSError, ValueError):
        return None


def read_snapshot(run_folder, epoch):
    """{filters, first_maps, first_ranges, deeper_maps, deeper_ranges, and where recorded cam,
    cam_classes, val_predicted, val_confidence} of one epoch, as arrays."""
    try:
        with np.load(run_folder / FOLDER / f"epoch_{epoch:04d}.npz") as data:
            return {key: data[key] for key in data.files}
    except UNREADABLE:
        raise RunError(_("The time-lapse of epoch {epoch} cannot be read: its file is damaged or gone.").format(
            epoch=epoch)) from None


def folder_bytes(run_folder):
    folder = run_folder / FOLDER
    return sum(p.stat().st_size for p in folder.iterdir()) if folder.is_dir() else 0


def read_validation(run_folder):
    """{rows, labels} of the run's validation images, or None for a run recorded without them."""
    try:
        with np.load(run_folder / FOLDER / VALIDATION) as data:
            return {"rows": data["rows"], "labels": data["labels"]}
    except UNREADABLE:
        return None


UNREADABLE = (OSError, KeyError, ValueError, zipfile.BadZipFile)  # a missing, damaged or older file


def _snapshot_keys(run_folder, epoch):
    try:
        with np.load(run_folder / FOLDER / f"epoch_{epoch:04d}.npz") as data:
            return set(data.files)
    except UNREADABLE:
        return set()  # damaged: counted as not recorded


def prediction_epochs(run_folder):
    """The recorded epochs that hold validation predictions, in order."""
    if read_validation(run_folder) is None:
        return []
    return [e for e in recorded_epochs(run_folder) if "val_predicted" in _snapshot_keys(run_folder, e)]


def describe_epochs(epochs):
    """'0 to 10', '0 to 20, every 2 (and the last)' or '0, 3, 7' for a list of recorded epochs, in the
    reader's language."""
    if len(epochs) < 3:
        return ", ".join(str(e) for e in epochs) or _("none")
    step = epochs[1] - epochs[0]
    if all(b - a == step for a, b in zip(epochs, epochs[1:-1])) and 0 < epochs[-1] - epochs[-2] <= step:
        if step == 1:
            return _("{first} to {last}").format(first=epochs[0], last=epochs[-1])
        return _("{first} to {last}, every {step} (and the last)").format(first=epochs[0], last=epochs[-1], step=step)
    return ", ".join(str(e) for e in epochs)


def require_epoch(epochs, epoch, what="validation predictions"):
    """`epoch` if it is among `epochs`, else a RunError that gives the recorded range."""
    predictions = what == "validation predictions"  # whole sentences for the usual case
    if not epochs:
        if predictions:
            raise RunError(_("This run has no validation predictions per epoch: it was trained before they were "
                             "recorded. Train it again to get them."))
        raise RunError(_("This run has no {what} per epoch: it was trained before they were recorded. Train it again "
                         "to get them.").format(what=what))
    if epoch not in epochs:
        if predictions:
            message = _("Epoch {epoch} was not recorded: this run has validation predictions for epochs {epochs} "
                        "(0 is before training).")
        else:
            message = _("Epoch {epoch} was not recorded: this run has {what} for epochs {epochs} (0 is before "
                        "training).")
        raise RunError(message.format(epoch=epoch, what=what, epochs=describe_epochs(epochs)))
    return epoch


def epoch_predictions(run_folder, epoch):
    """(predicted classes uint8 (n,), confidences float16 (n,)) of the validation images after `epoch`
    (0: before training); an epoch without them is refused with the recorded range."""
    try:
        with np.load(run_folder / FOLDER / f"epoch_{epoch:04d}.npz") as data:
            return data["val_predicted"], data["val_confidence"]
    except UNREADABLE:
        require_epoch(prediction_epochs(run_folder), epoch)
        raise RunError(_("The time-lapse of epoch {epoch} cannot be read: its file is damaged.").format(
            epoch=epoch)) from None


def confusion_over_epochs(run_folder, num_classes):
    """(epochs, int64 (E, K, K) validation confusion matrices), one per epoch recorded with
    predictions: rows are true classes, columns predicted ones."""
    from sklearn.metrics import confusion_matrix  # where it is used: see `runs.evaluation`
    validation = read_validation(run_folder)
    epochs = prediction_epochs(run_folder)
    classes = np.arange(num_classes)
    matrices = [confusion_matrix(validation["labels"], epoch_predictions(run_folder, e)[0], labels=classes)
                for e in epochs]
    return epochs, np.asarray(matrices, np.int64).reshape(len(epochs), num_classes, num_classes)


def epoch_summaries(run_folder, num_classes):
    """[{epoch, val_accuracy, val_confusion_matrix}] of every epoch recorded with predictions."""
    epochs, matrices = confusion_over_epochs(run_folder, num_classes)
    return [{"epoch": e, "val_accuracy": float(np.trace(m) / max(1, m.sum())), "val_confusion_matrix": m.tolist()}
            for e, m in zip(epochs, matrices)]
