"""Look inside a model (in the inspection worker): feature maps, first-layer filters, weight histograms,
predictions. Drawing the maps (`images.tile_channels`) needs no TensorFlow."""

import threading
import weakref

import numpy as np

FEATURE_TYPES = ("Conv2D", "BatchNormalization", "Activation", "ReLU", "MaxPooling2D",
                 "AveragePooling2D")

_extractors = weakref.WeakKeyDictionary()  # model -> {layer names tuple: extractor}
_extractors_lock = threading.Lock()


def feature_layers(model):
    """Names of the convolution, normalisation, activation and pooling layers with 2-D outputs."""
    return [layer.name for layer in model.layers
            if type(layer).__name__ in FEATURE_TYPES and len(layer.output.shape) == 4]


def _extractor(model, names):
    import keras
    with _extractors_lock:
        per_model = _extractors.setdefault(model, {})
        if names not in per_model:
            # One multi-output model: every requested layer from a single forward pass.
            per_model[names] = keras.Model(inputs=model.inputs,
                                           outputs=[model.get_layer(n).output for n in names])
        return per_model[names]


def feature_maps(model, image, layers=None):
    """Outputs of the chosen layers (default: all of `feature_layers`) for one uint8 image (H, W, C).

    Returns a list of dicts: name, type, shape (H, W, C) and values (float32 array).
    """
    names = tuple(layers or feature_layers(model))
    if not names:
        return []
    batch = np.asarray(image, np.float32)[None]
    outputs = _extractor(model, names)([batch], training=False)  # built on model.inputs, a list
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [{"name": n, "type": type(model.get_layer(n)).__name__, "shape": tuple(o.shape[1:]),
             "values": np.asarray(o[0], dtype=np.float32)} for n, o in zip(names, outputs)]


def first_conv_layer(model):
    for layer in model.layers:
        if type(layer).__name__ == "Conv2D":
            return layer
    return None


def first_conv_filters(model):
    """The first convolution's kernels as uint8 tiles (N, kh, kw, 3 or 1), each scaled to 0–255."""
    layer = first_conv_layer(model)
    if layer is None:
        return np.zeros((0, 1, 1, 1), np.uint8)
    kernel = np.asarray(layer.kernel, dtype=np.float32)  # (kh, kw, in, out)
    if kernel.shape[2] not in (1, 3):
        kernel = kernel.mean(axis=2, keepdims=True)
    tiles = np.moveaxis(kernel, -1, 0)  # (out, kh, kw, in)
    low = tiles.min(axis=(1, 2, 3), keepdims=True)
    span = tiles.max(axis=(1, 2, 3), keepdims=True) - low
    return np.round(255 * (tiles - low) / np.where(span > 0, span, 1)).astype(np.uint8)


def weight_layers(model):
    """Names of the layers with a kernel (convolutions and dense layers)."""
    return [layer.name for layer in model.layers if getattr(layer, "kernel", None) is not None
            and layer.trainable_weights]


def weight_histogram(trained, fresh, layer_name, bins=50):
    """Histograms of a layer's kernel, trained against freshly initialised, over shared bin edges."""
    a = np.asarray(trained.get_layer(layer_name).kernel).ravel()
    b = np.asarray(fresh.get_layer(layer_name).kernel).ravel()
    edges = np.histogram_bin_edges(np.concatenate([a, b]), bins=bins)
    return {"edges": edges, "trained": np.histogram(a, edges)[0], "initial": np.histogram(b, edges)[0],
            "trained_std": float(a.std()), "initial_std": float(b.std())}


def fresh_model(config):
    """The run's architecture, freshly initialised (for comparing weights)."""
    from .architectures import build_model
    return build_model(config["arch"], config["image_shape"], config["num_classes"], config["hparams"])


def predict_image(model, image, class_names, top_k=5):
    """Top-k (class name, probability) for one uint8 image (H, W, C), most likely first."""
    probs = np.asarray(model(np.asarray(image, np.float32)[None], training=False))[0]
    order = np.argsort(probs)[::-1][:top_k]
    return [(class_names[i], float(probs[i])) for i in order]
