"""One training run, in a worker process: the Keras fit on a tf.data pipeline, live reports, persistence.

Every run trains through `train_run`, called by the worker task that the job manager submits.
"""

import math
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from cifar_core.config.hparams import cpu_bf16_pays
from cifar_core.data.datasets import load_dataset
from cifar_core.data.splits import channel_stats, split_dataset
from cifar_core.errors import CoreError, RunError
from cifar_core.runs import store as run_store
from cifar_core.worker.models import SparseCrossentropy, build_model, fit_whitening
from cifar_core.worker.pipeline import make_augmenter, make_pipeline
from cifar_core.worker.timelapse import recorder

MAX_BATCH_POINTS = 100  # per-batch points kept in history.json per epoch


def gpu_available():
    return bool(tf.config.list_physical_devices("GPU"))


class StopRequested(Exception):
    """Raised from the progress callback to leave `fit` right after the current batch."""


class TrainingListener:
    """Receives a run's progress. Called from the training thread: implementations must be quick."""

    def on_start(self, info): ...
    def on_batch(self, epoch, batch, logs): ...
    def on_epoch(self, record): ...
    def on_end(self, status, reason): ...


def dtype_policy(precision):
    """The Keras dtype policy for a run's `precision` setting on this machine."""
    if precision == "auto":
        if gpu_available():
            return "mixed_float16"
        if cpu_bf16_pays():
            return "mixed_bfloat16"
    return "float32"


def learning_rate_schedule(schedule, peak, total_steps):
    """A constant rate, cosine decay to zero, or one-cycle: a linear warm-up from peak/25 over the
    first 20 % of steps, then cosine decay to zero (the shape of the CIFAR-10 speed records)."""
    total_steps = max(1, total_steps)
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(peak, total_steps)
    if schedule == "one_cycle":
        warmup = max(1, round(0.2 * total_steps))
        return keras.optimizers.schedules.CosineDecay(peak / 25, max(1, total_steps - warmup), warmup_target=peak, warmup_steps=warmup)
    return peak


def make_optimizer(training, total_steps):
    """The run's optimizer with its schedule and decoupled weight decay (None when 0)."""
    rate = learning_rate_schedule(training.get("lr_schedule", "constant"), training["learning_rate"], total_steps)
    decay = training.get("weight_decay") or None
    name = training["optimizer"]
    if name == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, weight_decay=decay)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(rate, weight_decay=decay)
    return keras.optimizers.Adam(rate, weight_decay=decay)


def save_model(model, path):
    """Save a `.keras` file atomically: a full disk leaves the previous file, never half a file."""
    tmp = path.with_name(path.stem + ".part.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"Cannot save the model to {path.parent} ({exc.strerror or exc}). Free disk space "
                       "or make the runs folder writable; earlier runs are untouched.") from None


def _weights_finite(model):
    return all(bool(keras.ops.all(keras.ops.isfinite(w))) for w in model.trainable_weights)


def _progress_callback(store, run_id, listener, stop_event, state, n_train, batch_size):
    """A Keras callback that reports, persists each epoch, stops on request or on a NaN loss."""

    steps_per_epoch = math.ceil(n_train / batch_size)
    stride = max(1, math.ceil(steps_per_epoch / MAX_BATCH_POINTS))
    history = {"epochs": [], "batches": [], "steps_per_epoch": steps_per_epoch}
    folder = store.path(run_id)

    class RunCallback(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            state["epoch_start"] = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            logs = logs or {}
            loss = float(logs.get("loss", float("nan")))
            if not math.isfinite(loss):
                state["diverged"] = True
                state["failed"] = (f"The loss became {loss} at epoch {state['epoch'] + 1}, batch "
                                   f"{batch + 1}: the learning rate is probably too high.")
                self.model.stop_training = True
                return
            accuracy = float(logs.get("accuracy", float("nan")))
            state["images_seen"] += min(batch_size, n_train - batch * batch_size)
            if batch % stride == 0 or batch == steps_per_epoch - 1:
                history["batches"].append([state["epoch"], batch, loss, accuracy])
            listener.on_batch(state["epoch"], batch, {"loss": loss, "accuracy": accuracy})
            state["last_logs"] = {"loss": loss, "accuracy": accuracy}
            if stop_event is not None and stop_event.is_set():
                # Leave fit at once: `stop_training` would still validate the epoch (seconds on a CPU).
                state["stopped"] = True
                raise StopRequested

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            record = {"epoch": epoch + 1,
                      "seconds": round(time.perf_counter() - state["epoch_start"], 3),
                      "partial": bool(state["stopped"] or state["failed"])}
            for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                value = logs.get(key)
                record[key] = float(value) if value is not None and math.isfinite(float(value)) else None
            if not state["failed"] and not _weights_finite(self.model):
                # Some CPUs clip a NaN probability to a finite loss, so the weights are checked too.
                state["diverged"] = True
                state["failed"] = (f"The weights became infinite or NaN in epoch {epoch + 1}: the learning "
                                   f"rate is probably too high.")
                self.model.stop_training = True
                record["partial"] = True
            history["epochs"].append(record)
            if not state["failed"]:  # models first: an epoch in the history has its checkpoint
                save_model(self.model, folder / run_store.LAST_MODEL)
                val_loss = record["val_loss"]
                if val_loss is not None and val_loss < state["best_val_loss"]:
                    state["best_val_loss"], state["best_epoch"] = val_loss, epoch + 1
                    save_model(self.model, folder / run_store.BEST_MODEL)
            store.write_history(run_id, history)
            state["epoch"] = epoch + 1
            listener.on_epoch(record)

    return RunCallback()


def _new_state():
    """What the progress callback tracks during one run."""
    return {"epoch": 0, "images_seen": 0, "stopped": False, "failed": None,
            "best_val_loss": math.inf, "best_epoch": None, "epoch_start": time.perf_counter()}


def _run_callbacks(store, run_id, listener, stop_event, state, n_train, batch_size, ds, split, val_ds, epochs):
    """Every run's callbacks: progress, checkpoints and history; the time-lapse of `ds`'s test
    images and of the validation predictions; TensorBoard logs. The time-lapse comes before the
    progress callback, so an epoch's snapshot is on disk when the epoch is reported (and shipped
    with it)."""
    return [recorder(store.path(run_id), ds.x_test, ds.y_test, epochs, val_ds=val_ds, val_rows=split.val,
                     val_labels=ds.y_train[split.val]),
            _progress_callback(store, run_id, listener, stop_event, state, n_train, batch_size),
            keras.callbacks.TensorBoard(str(store.path(run_id) / run_store.LOGS), write_graph=False,
                                        update_freq="epoch", profile_batch=0)]


def train_run(store, run_id, listener=None, stop_event=None):
    """Train the run `run_id` of `store` from its config. Returns its final status record.

    Never raises for a training problem: the run ends as failed with the reason.
    """
    listener = listener or TrainingListener()
    state = _new_state()
    started = time.perf_counter()
    status, reason = "failed", ""
    try:
        store.set_status(run_id, "running")
        config = store.config(run_id)
        status, reason = _fit(store, run_id, config, listener, stop_event, state)
    except CoreError as exc:
        reason = str(exc)
    except Exception as exc:  # a library error must end the run, not the process
        reason = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    images = state["images_seen"]
    try:
        store.set_status(run_id, status, reason, epochs_completed=state["epoch"],
                         best_epoch=state["best_epoch"], train_seconds=round(seconds, 3),
                         dtype_policy=state.get("dtype_policy"), diverged=bool(state.get("diverged")),
                         images_per_second=round(images / seconds, 1) if seconds and images else None)
    except CoreError:
        pass  # the runs folder went away or filled up; the caller still gets the outcome
    listener.on_end(status, reason)
    return {"run_id": run_id, "status": status, "reason": reason, "epochs_completed": state["epoch"],
            "train_seconds": round(seconds, 3)}


def compiled_model(config, ds, split):
    """The run's compiled model under its dtype policy, and its training and validation pipelines."""


    training = config["training"]
    keras.mixed_precision.set_dtype_policy(dtype_policy(training.get("precision", "auto")))  # thread-local
    keras.utils.set_random_seed(training["seed"])
    mean, std = channel_stats(ds.x_train, split.train)
    model = build_model(config["arch"], ds.image_shape, ds.num_classes, config["hparams"],
                        mean=mean, variance=np.square(std))
    fit_whitening(model, ds.x_train, split.train)
    batch_size = training["batch_size"]
    steps = math.ceil(len(split.train) / batch_size)
    model.compile(optimizer=make_optimizer(training, steps * training["epochs"]),
                  loss=SparseCrossentropy(ds.num_classes, training.get("label_smoothing", 0.0)),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    # Both pipelines gather their batches from the dataset's own uint8 array: no copies of a split.
    train_ds = make_pipeline(ds.x_train, ds.y_train, batch_size, split.train, shuffle_seed=training["seed"],
                             augmenter=make_augmenter(training["augment"], seed=training["seed"],
                                                      image_size=ds.image_shape[:2]))
    val_ds = make_pipeline(ds.x_train, ds.y_train, max(batch_size, 64), split.val)
    return model, train_ds, val_ds


def _fit(store, run_id, config, listener, stop_event, state):

    training = config["training"]
    ds = load_dataset(config["dataset"])
    split = split_dataset(ds, training["val_split"], training["seed"], training["train_size"])
    model, train_ds, val_ds = compiled_model(config, ds, split)
    state["dtype_policy"] = model.dtype_policy.name
    batch_size, n_train = training["batch_size"], len(split.train)
    steps = math.ceil(n_train / batch_size)
    callbacks = _run_callbacks(store, run_id, listener, stop_event, state, n_train, batch_size, ds, split,
                               val_ds, training["epochs"])
    if training["patience"]:
        callbacks.append(keras.callbacks.EarlyStopping(patience=training["patience"],
                                                       restore_best_weights=True))
    listener.on_start({"epochs": training["epochs"], "steps_per_epoch": steps, "n_train": n_train,
                       "n_val": len(split.val), "params": model.count_params(), "dtype_policy": state["dtype_policy"]})
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=training["epochs"], callbacks=callbacks, shuffle=False,
                  verbose=0)  # the pipeline shuffles
    except StopRequested:  # the partial epoch: its training metrics so far, its weights as the last model
        callbacks[1].on_epoch_end(state["epoch"], state["last_logs"])
    if state["failed"]:
        return "failed", state["failed"]
    if state["stopped"]:
        return "stopped", f"Stopped by request during epoch {state['epoch']}."
    if state["epoch"] < training["epochs"]:
        return "completed", (f"Early stopping after epoch {state['epoch']}: validation loss had not "
                             f"improved for {training['patience']} epochs; the weights of epoch "
                             f"{state['best_epoch']} are kept.")
    return "completed", ""


def measure_speed(config, batches=8):
    """Seconds a run of `config` spends per training batch, per validation batch, per epoch besides
    (checkpoints, history, logs, iterators) and once at its start (building, tracing), for
    `estimate`: two short epochs of real batches, with a run's own callbacks, in a scratch folder."""
    training = config["training"]
    ds = load_dataset(config["dataset"])
    split = split_dataset(ds, training["val_split"], training["seed"], training["train_size"])
    batch_size = training["batch_size"]
    steps = min(batches, math.ceil(len(split.train) / batch_size))
    val_steps = min(max(2, batches // 2), math.ceil(len(split.val) / max(batch_size, 64)))
    marks = {"epochs": [], "batch": [], "val": []}

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks["epochs"].append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            marks["batch"].append(time.perf_counter())

        def on_test_begin(self, logs=None):
            marks["val"].append(time.perf_counter())

        def on_test_end(self, logs=None):
            marks["val"].append(time.perf_counter())

    store = run_store.RunStore(tempfile.mkdtemp(prefix="cifar-core-speed-"))
    try:
        started = time.perf_counter()
        run_id = store.create({**config, "training": {**training, "epochs": 2}})
        model, train_ds, val_ds = compiled_model(config, ds, split)
        state = _new_state()
        callbacks = [Clock(), *_run_callbacks(store, run_id, TrainingListener(), None, state,
                                              steps * batch_size, batch_size, ds, split, val_ds, 2)]
        model.fit(train_ds.repeat(), epochs=2, steps_per_epoch=steps, validation_data=val_ds.repeat(),
                  validation_steps=val_steps, shuffle=False, verbose=0, callbacks=callbacks)
        ended = time.perf_counter()
    finally:
        shutil.rmtree(store.root, ignore_errors=True)
        keras.mixed_precision.set_dtype_policy("float32")  # this worker's later calls build in float32
    if len(marks["epochs"]) < 2:  # the loss became NaN in the first epoch
        raise RunError(state["failed"] or "These settings could not be timed: the run stopped after one epoch.")
    train_batch = (marks["batch"][-1] - marks["epochs"][1]) / steps  # epoch 2: the graphs are traced
    val_batch = (marks["val"][3] - marks["val"][2]) / val_steps
    epoch_two = ended - marks["epochs"][1]
    return {"train_batch": train_batch, "val_batch": val_batch,
            "epoch_overhead": max(0.0, epoch_two - steps * train_batch - val_steps * val_batch),
            "startup": max(0.0, marks["epochs"][1] - started - epoch_two), "dtype_policy": model.dtype_policy.name}
