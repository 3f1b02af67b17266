"""The learning-rate range test (Leslie Smith 2015, fastai's `lr_find`): train a copy of a run's setup
for about a hundred batches while the learning rate grows exponentially, and watch the loss.

The rate where the smoothed loss falls fastest is a good one to train with: lower rates learn
slowly, and higher ones soon make the loss explode. Nothing is saved; the run's own settings are
untouched.
"""

import math
import time

import keras
import numpy as np

from cifar_core.data.datasets import load_dataset
from cifar_core.data.splits import split_dataset
from cifar_core.i18n import N_, _
from cifar_core.worker.training import compiled_model

LOWEST, HIGHEST, BATCHES = 1e-6, 1.0, 100
SMOOTHING = 0.9  # weight of the past in the loss's moving average: 100 noisy batches need it
EXPLODED = 4.0  # stop once the smoothed loss is this many times its lowest value
WARM_UP = 5  # the first points of the average are too few to judge a slope by
SLOPE_REACH = 4  # points on either side a slope is measured over (about a quarter of a decade)
RULE = N_("steepest descent: the rate where the smoothed loss falls fastest, before its lowest point")


def smooth(losses, beta=SMOOTHING):
    """Exponential moving average with bias correction, as fastai's recorder keeps it."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** step))
    return np.asarray(smoothed)


def suggest(rates, smoothed):
    """(suggested rate or None, why): the steepest descent of `smoothed` against log10(rate), among
    the points before its lowest one. None, with the reason, when the loss never fell."""
    rates, smoothed = np.asarray(rates, dtype=np.float64), np.asarray(smoothed, dtype=np.float64)
    if len(smoothed) < 2 * WARM_UP:
        return None, _("The loss exploded after {count} batches, too soon to judge: check the settings "
                       "(optimizer, weight decay, label smoothing) and try again.").format(count=len(smoothed))
    lowest = int(np.argmin(smoothed))
    if smoothed[lowest] > 0.98 * smoothed[WARM_UP] or lowest <= WARM_UP + SLOPE_REACH:
        return None, _("The loss never fell while the rate grew, so no rate can be suggested: check the "
                       "settings (a frozen network, too much regularisation), or train a few epochs and look "
                       "at the curves instead.")
    # The slope over a few points on either side, and never into the last few before the lowest
    # point: one lucky batch there pulls the average down and would look like the steepest descent.
    log_rates = np.log10(rates)
    end = max(WARM_UP + 1, lowest - SLOPE_REACH)
    points = np.arange(WARM_UP, end)
    before, after = np.maximum(points - SLOPE_REACH, 0), np.minimum(points + SLOPE_REACH, end)
    slopes = (smoothed[after] - smoothed[before]) / (log_rates[after] - log_rates[before])
    steepest = int(points[np.argmin(slopes)])
    return float(f"{rates[steepest]:.1g}"), ""  # one significant digit: 3e-3, as a person types it


def find_learning_rate(config, stop_flag=None, batches=BATCHES, lowest=LOWEST, highest=HIGHEST):
    """Run the range test on `config`'s dataset, network and options (its own rate and schedule
    aside). `stop_flag` (a threading.Event) cancels it at the next batch.

    Returns {learning_rates, losses, smoothed (lists, one point a batch), suggested_learning_rate
    (None when there is none), reason, rule, stopped ("exploded", "cancelled" or ""), seconds}.
    """
    started = time.perf_counter()
    training = {**config["training"], "lr_schedule": "constant", "learning_rate": lowest}
    config = {**config, "training": training}
    ds = load_dataset(config["dataset"])
    split = split_dataset(ds, training["val_split"], training["seed"], training["train_size"])
    try:
        model, train_ds, _val_ds = compiled_model(config, ds, split)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")  # the model keeps its own; later calls build in float32
    rates = lowest * (highest / lowest) ** (np.arange(batches) / (batches - 1))
    losses, stopped = [], ""
    for step, (images, labels) in enumerate(train_ds.repeat().take(batches)):
        if stop_flag is not None and stop_flag.is_set():
            stopped = "cancelled"
            break
        model.optimizer.learning_rate.assign(rates[step])
        loss = float(model.train_on_batch(images, labels, return_dict=True)["loss"])  # this batch's own loss
        if not math.isfinite(loss):
            stopped = "exploded"
            break
        losses.append(loss)
        smoothed = smooth(losses)
        if step >= WARM_UP and smoothed[-1] > EXPLODED * smoothed.min():
            stopped = "exploded"
            break
    smoothed = smooth(losses)
    if stopped == "cancelled":
        suggested, reason = None, _("Cancelled before the end.")
    else:
        suggested, reason = suggest(rates[:len(losses)], smoothed)
    return {"learning_rates": [float(r) for r in rates[:len(losses)]], "losses": losses,
            "smoothed": [float(s) for s in smoothed], "suggested_learning_rate": suggested, "reason": reason,
            "rule": RULE, "stopped": stopped, "seconds": round(time.perf_counter() - started, 2)}
