"""Look inside a model (in the inspection worker): feature maps, first-layer filters, weight histograms,
predictions. Drawing the maps (`images.tile_channels`) needs no TensorFlow."""

import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from cifar_core.worker.models import build_model

FEATURE_TYPES = ("Conv2D", "BatchNormalization", "Activation", "ReLU", "MaxPooling2D",
                 "AveragePooling2D")

_extractors = weakref.WeakKeyDictionary()  # model -> {layer names tuple: extractor}
_extractors_lock = threading.Lock()


def feature_layers(model):
    """Names of the convolution, normalisation, activation and pooling layers with 2-D outputs."""
    return [layer.name for layer in model.layers
            if type(layer).__name__ in FEATURE_TYPES and len(layer.output.shape) == 4]


def _extractor(model, names):
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


def first_conv_trains(model):
    """Whether the first convolution's filters change in training: not a frozen layer (a whitening
    stem set from the data, VGG16's frozen ImageNet layers)."""
    layer = first_conv_layer(model)
    return bool(layer is not None and layer.trainable and layer.trainable_weights)


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
    with np.errstate(invalid="ignore"):  # a diverged run's kernels hold NaN: drawn as 0
        scaled = np.nan_to_num(255 * (tiles - low) / np.where(span > 0, span, 1))
    return np.round(scaled).clip(0, 255).astype(np.uint8)


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
    return build_model(config["arch"], config["image_shape"], config["num_classes"], config["hparams"])


def predict_image(model, image, class_names, top_k=5):
    """Top-k (class name, probability) for one uint8 image (H, W, C), most likely first."""
    probs = np.asarray(model(np.asarray(image, np.float32)[None], training=False))[0]
    order = np.argsort(probs)[::-1][:top_k]
    return [(class_names[i], float(probs[i])) for i in order]


def cam_layers(model):
    """For each convolution, input to output, the layer that gives its maps once activated: the
    convolution itself when it has its own activation, else the batch norm, pooling and ReLU after it.

    Grad-CAM reads activated maps (keras-io's example uses `block14_sepconv2_act`): before the ReLU a
    map is also negative, and a negative map times a negative weight would light up the background.
    """
    layers = model.layers
    names = []
    for i, layer in enumerate(layers):
        if type(layer).__name__ != "Conv2D" or len(layer.output.shape) != 4:
            continue
        activated = layer.get_config().get("activation") not in (None, "linear")
        while i + 1 < len(layers):
            kind = type(layers[i + 1]).__name__
            if kind in ("Activation", "ReLU") and not activated:
                activated = True
            elif activated or kind not in ("BatchNormalization", "MaxPooling2D"):
                break
            i += 1
        names.append(layers[i].name)
    return names


def grad_cam(model, image, class_indices, layer=None):
    """Grad-CAM (Selvaraju et al., 2017) of one uint8 image (H, W, C) for each class in `class_indices`.

    Returns {layer, heatmaps: {class index: float32 (h, w) in 0–1 at the layer's resolution},
    probabilities: float32 (num_classes,)}.
    """
    layer = layer or cam_layers(model)[-1]  # the last convolution
    classes = [int(c) for c in class_indices]
    images = np.repeat(np.asarray(image, np.float32)[None], len(classes), axis=0)
    heatmaps, probabilities = class_activation_maps(model, images, classes, layer)
    return {"layer": layer, "heatmaps": dict(zip(classes, heatmaps)), "probabilities": probabilities[0]}


def class_activation_maps(model, images, classes, layer):
    """Grad-CAM of each image of `images` (N, H, W, C) for its own class in `classes` (N,), in one
    forward and one backward pass. Returns (float32 (N, h, w) heatmaps in 0–1, float32 (N,
    num_classes) probabilities).

    The class score is the logit before the softmax (as keras-io's `grad_cam.py` removes the last
    activation): softmax gradients vanish on a confident prediction. Each channel of the layer's
    output is weighted by the spatial mean of the score's gradient, summed, and only the positive
    evidence kept. The images do not mix (the model runs in inference mode), so the gradient of the
    summed scores gives each image its own.
    """
    head = model.layers[-1]  # the softmax Dense: its input and kernel give the logits
    explain = _cam_model(model, layer)
    batch = tf.constant(np.asarray(images, np.float32))
    with tf.GradientTape() as tape:
        maps, features = explain(batch, training=False)
        logits = tf.cast(features, tf.float32) @ tf.cast(head.kernel, tf.float32) + tf.cast(head.bias, tf.float32)
        score = tf.reduce_sum(tf.gather(logits, tf.constant(classes, tf.int32)[:, None], axis=1, batch_dims=1))
    grads = tf.cast(tape.gradient(score, maps), tf.float32)  # (N, h, w, channels)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one importance per channel and image
    cams = tf.nn.relu(tf.reduce_sum(tf.cast(maps, tf.float32) * weights, axis=-1)).numpy()
    top = cams.max(axis=(1, 2), keepdims=True)
    heatmaps = np.divide(cams, top, out=np.zeros_like(cams), where=top > 0).astype(np.float32)
    return heatmaps, np.asarray(keras.ops.softmax(logits), dtype=np.float32)


def _cam_model(model, layer):
    """A model from the input to (the layer's maps, the input of the softmax layer), cached per model."""
    return derived_model(model, ("grad_cam", layer),
                         lambda: keras.Model(inputs=model.inputs,
                                             outputs=[model.get_layer(layer).output, model.layers[-1].input]))


def classifier_input_model(model):
    """A model from the input to the input of the softmax layer (the features the classifier reads),
    cached per model."""
    return derived_model(model, "classifier_input", lambda: keras.Model(model.inputs, model.layers[-1].input))


def derived_model(model, key, make):
    """A model built from `model`'s layers (an extractor), made once per model and `key` under one
    lock: the inspection worker serves several sessions at once, and Keras builds unsafely."""
    with _extractors_lock:
        per_model = _extractors.setdefault(model, {})
        if key not in per_model:
            per_model[key] = make()
        return per_model[key]
