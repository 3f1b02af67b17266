"""A run's best model for other runtimes: ONNX (ONNX Runtime, on a web page too), TFLite (phones)
and a SavedModel (TF Serving). In the inspection worker.

The exported model takes raw pixels, float32 0–255 in NHWC, and returns the class probabilities:
the standardisation stays inside, as in the `.keras` file, and a run evaluated with flip averaging
is exported with it. It is always float32: a model trained under `mixed_bfloat16` would put bf16 ops
in the graph, which TFLite runs only with TensorFlow's select ops.
"""

import io
import shutil
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

from cifar_core.cache import BoundedCache
from cifar_core.errors import RunError
from cifar_core.export.formats import MODEL_FORMATS, check_model_format
from cifar_core.i18n import _
from cifar_core.worker.evaluation import load_run_model

_exports = BoundedCache(4)  # (run, model version, format) -> {filename, data}: a download after Convert


def _exportable_layer(layer):
    """A fresh float32 copy of `layer`. The standardisation becomes the equivalent Rescaling: a
    Normalization keeps its mean and variance as tensors made outside the graph, which the ONNX
    converter takes for extra inputs; a Rescaling's constants are made inside it."""
    if isinstance(layer, keras.layers.Normalization):
        std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float64)), keras.backend.epsilon()).reshape(-1)
        mean = np.asarray(layer.mean, np.float64).reshape(-1)
        return keras.layers.Rescaling(scale=(1 / std).tolist(), offset=(-mean / std).tolist(), name=layer.name)
    if isinstance(layer, keras.Model):  # a nested network (VGG16's base)
        return keras.models.clone_model(layer, clone_function=_exportable_layer)
    return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})


def float32_model(model):
    """`model` rebuilt in float32 with its weights (under a mixed policy its variables are float32
    already), the standardisation inside as constants."""
    copy = keras.models.clone_model(model, clone_function=_exportable_layer)
    for layer in model.layers:
        if layer.weights:
            copy.get_layer(layer.name).set_weights([np.asarray(w, np.float32) for w in layer.get_weights()])
    return copy


def servable_model(model, config):
    """The float32 model as the product predicts with it: averaged with its mirror image when the
    run is evaluated so (`tta`)."""
    model = float32_model(model)
    if not config["training"].get("tta"):
        return model
    pixels = keras.Input(shape=tuple(config["image_shape"]), name="pixels")  # (N, H, W, C), 0–255
    mirrored = keras.ops.flip(pixels, axis=2)  # left–right
    probabilities = keras.layers.Average(name="flip_average")([model(pixels), model(mirrored)])
    return keras.Model(pixels, probabilities, name=f"{model.name}_with_flip")


def export_model(store, run_id, fmt):
    """The run's best model exported as `fmt`: {filename, data (bytes)}, converted once per model
    version. A SavedModel, a folder, comes as a .zip of it."""
    check_model_format(fmt)
    status = store.status(run_id)["status"]
    if status in ("queued", "running"):
        raise RunError(_("Run {run_id} is still {status}: export it once it has ended (or stop it).").format(
            run_id=run_id, status=_(status)))
    stamp = store.model_stamp(run_id, "best")
    return _exports.get_or_create((str(store.path(run_id)), stamp["model"], stamp["mtime_ns"], fmt),
                                  lambda: _convert(store, run_id, fmt))


def _convert(store, run_id, fmt):
    config = store.config(run_id)
    model = servable_model(load_run_model(store, run_id, "best"), config)
    model(np.zeros((1, *config["image_shape"]), np.float32))  # Keras exports a model that has been called
    scratch = Path(tempfile.mkdtemp(prefix="cifar-core-export-"))
    suffix = MODEL_FORMATS[fmt]["suffix"]
    target = scratch / f"{run_id}{suffix}"
    try:
        try:
            model.export(str(target), format=MODEL_FORMATS[fmt]["keras_format"], verbose=False)
        except Exception as exc:  # a converter's failure: one line
            raise RunError(_("The model of run {run_id} could not be exported as {format} ({error}).").format(
                run_id=run_id, format=fmt, error=f"{type(exc).__name__}: {str(exc)[:200]}")) from None
        if target.is_dir():
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(target.rglob("*")):
                    if path.is_file():
                        archive.write(path, f"{run_id}/{path.relative_to(target)}")
            return {"filename": f"{run_id}-saved_model.zip", "data": buffer.getvalue()}
        return {"filename": target.name, "data": target.read_bytes()}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
