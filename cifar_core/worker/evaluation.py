"""Evaluate a run on the test set: the model's class probabilities for every test image.

They are kept in the run folder with the accuracy and loss (`RunStore.write_evaluation`), stamped
with the model file they came from; the confusion matrix and the rest are derived when read
(`cifar_core.runs.evaluation`). Loaded models are kept in a small per-process cache.
"""

import threading
import time

import keras
import numpy as np

from cifar_core.cache import BoundedCache
from cifar_core.data.datasets import load_dataset
from cifar_core.errors import RunError
from cifar_core.i18n import _
from cifar_core.runs.evaluation import summarize
from cifar_core.worker import models  # noqa: F401  registers the product's own layers for loading
from cifar_core.worker.pipeline import make_pipeline

MAX_CACHED_MODELS = 8  # a watched run saves a new version every epoch; old ones fall out

_models = BoundedCache(MAX_CACHED_MODELS)  # (path, mtime_ns) -> keras.Model
_loading = threading.Lock()  # Keras loads one model at a time, as it always has here


def load_run_model(store, run_id, which="best"):
    """The run's saved model (best, else last), loaded in safe mode and cached per file version."""
    stamp = store.model_stamp(run_id, which)
    path = store.path(run_id) / stamp["model"]
    return _models.get_or_create((str(path), stamp["mtime_ns"]), lambda: _load_model(path, run_id))


def _load_model(path, run_id):

    with _loading:
        try:
            return keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as exc:
            raise RunError(_("The model of run {run_id} cannot be loaded ({error}).").format(
                run_id=run_id, error=f"{type(exc).__name__}: {str(exc)[:200]}")) from None


def evaluate_run(store, run_id, progress=None, batch_size=128, which="best"):
    """Evaluate the run's model on the test set and store it; `progress(done, total)` is called per
    batch. Returns the stored figures (accuracy, loss, ...; see `RunStore.write_evaluation`).

    A stored evaluation of the same model file is kept as it is, without a progress report.
    """
    stamp = store.model_stamp(run_id, which)
    stored = store.evaluation_figures(run_id, stamp)
    if stored is not None:
        return stored
    config = store.config(run_id)
    ds = load_dataset(config["dataset"])
    model = load_run_model(store, run_id, which)
    started = time.perf_counter()
    tta = bool(config["training"].get("tta"))
    probs = predict_with_flip(model, ds.x_test, batch_size, progress) if tta else \
        predict_batched(model, ds.x_test, batch_size, progress)
    seconds = time.perf_counter() - started
    figures = {"stamp": stamp, **summarize(ds.y_test, probs), "tta": tta, "class_names": list(ds.class_names),
               "seconds": round(seconds, 3),
               "images_per_second": round(len(probs) / seconds, 1) if seconds else None}
    return store.write_evaluation(run_id, ds.y_test, probs, figures)


def predict_with_flip(model, images, batch_size=128, progress=None):
    """Test-time augmentation: the mean of the probabilities for each image and its mirror image."""
    total = len(images)

    def half(offset):
        return (lambda done, _: progress(offset + done, 2 * total)) if progress else None

    probs = predict_batched(model, images, batch_size, half(0))
    return (probs + predict_batched(model, np.ascontiguousarray(images[:, :, ::-1]), batch_size, half(total))) / 2


def predict_batched(model, images, batch_size=128, progress=None):
    """Class probabilities for uint8 images, in batches, reporting `progress(done, total)`."""


    total = len(images)
    steps = -(-total // batch_size)

    class Report(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            if progress:
                progress(min((batch + 1) * batch_size, total), total)

    data = make_pipeline(images, np.zeros(total, np.int32), batch_size)
    return np.asarray(model.predict(data, steps=steps, verbose=0, callbacks=[Report()]), dtype=np.float32)
