"""How long a run will take on this machine, before it starts, and settings that fit a time budget.

The first estimate for an architecture, its settings, batch size, augmentation and precision
measures a few real batches on the inspection worker (`training.measure_speed`, seconds), one
measurement at a time, and keeps it in a small JSON file, `cifar_core-timings.json` in the Keras
folder (~/.keras, or $KERAS_HOME), or at $CIFAR_CORE_TIMINGS. Every later estimate for those settings is arithmetic.
"""

import functools
import json
import logging
import math
import os
import platform
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cifar_core.config.architectures import get_architecture
from cifar_core.config.hparams import cpu_bf16_pays
from cifar_core.config.recipes import recipe_settings
from cifar_core.config.run_config import make_config
from cifar_core.data.download import keras_cache_dir
from cifar_core.errors import CoreError, ParamError
from cifar_core.i18n import _
from cifar_core.runs.store import write_json
from cifar_core.server.inspection import measure_speed

TIMINGS_ENV = "CIFAR_CORE_TIMINGS"
MIN_BUDGET_EPOCHS = 3
_lock = threading.Lock()
_measuring = {}  # speed key -> the Future of a measurement under way (at most one at a time)
_measurer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cifar-core-speed")
MAX_KEPT_MEASUREMENTS = 64
log = logging.getLogger(__name__)


def timings_path():
    return Path(os.environ.get(TIMINGS_ENV) or keras_cache_dir().parent / "cifar_core-timings.json")


@functools.cache
def machine():
    """This machine's name and processor: a lab's shared home folder keeps each machine's own timings.
    Read once a process."""
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{platform.node()} · {cpu or platform.processor()} · {os.cpu_count()} cores"


def _measurable(config):
    """The same network without a download: ImageNet weights train no faster than random ones."""
    if config["hparams"].get("weights") == "imagenet":
        return {**config, "hparams": {**config["hparams"], "weights": "none"}}
    return config


def speed_key(config):
    """What the speed of a batch depends on (not the number of images or epochs)."""
    config = _measurable(config)
    t = config["training"]
    return json.dumps([machine(), config["arch"], config["hparams"], config["image_shape"], config["num_classes"],
                       t["batch_size"], sorted(t["augment"]), _precision(t.get("precision", "auto"))], sort_keys=True)


def _precision(precision):
    # What "auto" trains in on this CPU: a speed measured under the other rule is not reused.
    return f"auto:{'bfloat16' if cpu_bf16_pays() else 'cpu'}" if precision == "auto" else precision


def _read(path=None):
    """The timings file's contents, parsed again only when the file changes (a page reads it on
    every rerun)."""
    path = path or timings_path()
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _parsed(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _parsed(path, mtime_ns, size):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def stored_speed(config):
    return _read().get(speed_key(config))


def speed(config):
    """The measured speed for `config`'s settings: from the timings file, else measured now."""
    found = stored_speed(config)
    return found if found is not None else _measurement(config).result()


def _measurement(config):
    """The measurement of `config`'s settings in this process, started unless there is one already:
    a failed one keeps its error for these settings (measuring again would fail again)."""
    key = speed_key(config)
    with _lock:
        future = _measuring.get((str(timings_path()), key))
        if future is None:
            if len(_measuring) >= MAX_KEPT_MEASUREMENTS:  # bounded: forget finished ones first
                for done in [k for k, f in _measuring.items() if f.done()]:
                    del _measuring[done]
            future = _measurer.submit(_measure_and_keep, config, key, timings_path())
            _measuring[(str(timings_path()), key)] = future
    return future


def _measure_and_keep(config, key, path):
    measured = measure_speed(_measurable(config))
    with _lock:  # one writer per process; the file is replaced atomically
        timings = dict(_read(path))  # the parsed file is cached: never change it in place
        timings[key] = measured
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json(path, timings)
        except (OSError, CoreError) as exc:  # the estimate still works, measured again next time
            log.warning("Cannot keep measured speeds in %s (%s).", path, exc)
    return measured


def seconds_for(config, measured):
    """Estimated seconds of training (what status.json's train_seconds measures) for `config`."""
    t = config["training"]
    steps = math.ceil(config["n_train"] / t["batch_size"])
    val_steps = math.ceil(config["n_val"] / max(t["batch_size"], 64))
    epoch = steps * measured["train_batch"] + val_steps * measured["val_batch"] + measured["epoch_overhead"]
    return measured["startup"] + t["epochs"] * epoch


def estimate_soon(config):
    """The estimate if this machine's speed for `config`'s settings is known; else None, with a
    measurement started in the background (a page shows the estimate when it is ready instead of
    waiting for it). A failed measurement raises its error."""
    if stored_speed(config) is None:
        future = _measurement(config)
        if not future.done():
            return None
        return _estimate_from(config, future.result(), measured_now=True)
    return estimate(config)


def estimate(config):
    """{seconds, per_epoch, startup, measured_now}: how long `config` trains on this machine. With
    early stopping on, a run may end sooner."""
    measured_now = stored_speed(config) is None
    return _estimate_from(config, speed(config), measured_now)


def _estimate_from(config, measured, measured_now):
    total = seconds_for(config, measured)
    return {"seconds": total, "per_epoch": (total - measured["startup"]) / config["training"]["epochs"],
            "startup": measured["startup"], "measured_now": measured_now, "dtype_policy": measured["dtype_policy"]}


def describe_duration(seconds, about=True):
    """'about 45 s', 'about 3 min', 'about 1 h 20 min' in the reader's language; without 'about':
    '45 s', '3 min', '1 h 20 min'."""
    if seconds < 90:
        text = _("about {seconds} s") if about else _("{seconds} s")
        return text.format(seconds=f"{max(5, round(seconds / 5) * 5):.0f}")
    minutes = round(seconds / 60)
    if minutes < 60:
        return (_("about {minutes} min") if about else _("{minutes} min")).format(minutes=minutes)
    text = _("about {hours} h {minutes} min") if about else _("{hours} h {minutes} min")
    return text.format(hours=minutes // 60, minutes=minutes % 60)


def fit_to_budget(dataset, arch, hparams, training, budget_seconds):
    """Training options that fit `budget_seconds` on this machine: all training images if the
    chosen epochs (or at least MIN_BUDGET_EPOCHS of them) fit, else fewer images. Returns
    (training options, estimate)."""
    if not budget_seconds or budget_seconds <= 0:
        raise ParamError(_("A time budget must be more than 0 seconds, got {budget}.").format(budget=budget_seconds))
    training = dict(training)
    config = make_config(dataset, arch, hparams, **training)
    measured = speed(config)
    wanted = config["training"]["epochs"]
    full = config["n_train"] if config["training"]["train_size"] is None else config["training"]["train_size"]

    def seconds(epochs, size):
        trial = {**config, "n_train": size, "training": {**config["training"], "epochs": epochs}}
        return seconds_for(trial, measured)

    epochs = next((e for e in range(wanted, min(wanted, MIN_BUDGET_EPOCHS) - 1, -1)
                   if seconds(e, full) <= budget_seconds), None)
    size = full
    if epochs is None:  # even the fewest epochs on every image take too long: fewer images
        epochs = min(wanted, MIN_BUDGET_EPOCHS)
        fixed = seconds(epochs, 0)
        per_image = (seconds(epochs, full) - fixed) / full
        size = min(full, int((budget_seconds - fixed) / per_image) if per_image > 0 else full)
        smallest = max(config["num_classes"] * 10, config["training"]["batch_size"])
        if size < smallest:
            raise ParamError(_("{budget} is too short for the {network} here: even {images} images for {epochs} "
                               "epochs take {time}. Give a longer time budget or a smaller network.").format(
                budget=describe_duration(budget_seconds, about=False), network=get_architecture(arch).title_text,
                images=smallest, epochs=epochs, time=describe_duration(seconds(epochs, smallest))))
    chosen = config["training"]["train_size"]  # a number of images chosen stays, if it fits
    training.update(epochs=epochs, train_size=size if chosen is not None or size < full else None)
    fitted = make_config(dataset, arch, hparams, **training)
    return training, {"seconds": seconds_for(fitted, measured), "measured_now": False,
                      "dtype_policy": measured["dtype_policy"]}


def recipe_run(recipe, budget_seconds=None, **overrides):
    """(dataset, arch, hparams, training) of a recipe or a preset with `overrides` (as
    `recipes.recipe_settings` applies them), fitted to `budget_seconds`, or else to a class preset's
    own budget: what the CLI, `prepare` and the benchmarks start."""
    dataset, arch, hparams, training = recipe_settings(recipe, **overrides)
    budget = budget_seconds or recipe.get("budget_seconds")
    if budget:
        training, _fitted = fit_to_budget(dataset, arch, hparams, training, budget)
    return dataset, arch, hparams, training
