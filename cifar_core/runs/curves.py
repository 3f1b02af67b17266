"""Learning-curve helpers: overfitting onset, downsampling for live charts, CSV export."""

import csv
import io

EPOCH_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds", "partial")


def overfitting_onset(epochs, rising=2):
    """The epoch (1-based) at which validation loss has risen `rising` epochs in a row while
    training loss fell: the notebooks' "overfitting" moment. None if it has not happened."""
    for end in range(rising, len(epochs)):
        window = epochs[end - rising: end + 1]
        if any(e.get("val_loss") is None or e.get("loss") is None for e in window):
            continue
        val_up = all(b["val_loss"] > a["val_loss"] for a, b in zip(window, window[1:]))
        train_down = all(b["loss"] < a["loss"] for a, b in zip(window, window[1:]))
        if val_up and train_down:
            return window[-1]["epoch"]
    return None


def downsample(points, limit=500):
    """At most `limit` points, evenly spaced, always keeping the last one."""
    points = list(points)
    if len(points) <= limit:
        return points
    step = len(points) / limit
    picked = [points[int(i * step)] for i in range(limit - 1)]
    return picked + [points[-1]]


def history_csv(epochs):
    """The per-epoch history as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EPOCH_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(epochs)
    return out.getvalue()


def fractional_epoch(epoch, batch, steps_per_epoch):
    """Where a run is after batch `batch` (0-based) of epoch `epoch` (0-based), in epochs: the x axis
    of every per-batch chart, live or from the history."""
    return epoch + (batch + 1) / steps_per_epoch


def batch_series(history):
    """Per-batch points of a run's history.json ([epoch, batch, loss, acc]) as
    (fractional epoch, loss, accuracy), for the same charts as the live view."""
    batches = history.get("batches", [])
    # Histories written before steps_per_epoch was recorded: the last batch kept is the epoch's last.
    steps = history.get("steps_per_epoch") or max((b[1] for b in batches), default=0) + 1
    return [(fractional_epoch(e, b, steps), loss, acc) for e, b, loss, acc in batches]
