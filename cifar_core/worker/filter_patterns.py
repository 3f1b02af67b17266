"""What a filter looks for: the input that excites one channel of a convolution most, found by
gradient ascent on the input (as keras-io's `visualizing_what_convnets_learn.py`), with the
regularisation that keeps it readable at 32×32: random jitter each step, and a blur and a decay
towards grey every few steps. In the inspection worker, cached per model file and layer."""

import keras
import numpy as np
import tensorflow as tf

from cifar_core.cache import BoundedCache
from cifar_core.errors import ParamError
from cifar_core.i18n import _
from cifar_core.worker.inspection import cam_layers, derived_model

PATTERN_COUNT = 16  # the first 16 filters of the layer
STEPS = 80
STEP_SIZE = 8.0  # pixel levels a step, along the normalised gradient
JITTER = 2  # pixels each way
REGULARISE_EVERY = 4  # steps between blur-and-decay
DECAY = 0.9  # towards grey (128): the pattern keeps only what the filter keeps asking for
TOP_IMAGES = 4  # the test images that excite each filter most
MAX_TEST_IMAGES = 1000

_patterns = BoundedCache(8)  # (model file, version, layer) -> result
_BLUR = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16  # a 3×3 Gaussian


def _extractor(model, layer):
    return derived_model(model, ("layer_output", layer), lambda: keras.Model(model.inputs, model.get_layer(layer).output))


def filter_activation(extract, images):
    """Each image's mean activation of each channel: float32 (N, channels)."""
    return np.asarray(tf.reduce_mean(tf.cast(extract(tf.constant(images, tf.float32), training=False),
                                             tf.float32), axis=(1, 2)))


def _blur(images):
    channels = images.shape[-1]
    kernel = tf.constant(np.tile(_BLUR[:, :, None, None], (1, 1, channels, 1)))
    return tf.nn.depthwise_conv2d(images, kernel, strides=[1, 1, 1, 1], padding="SAME")


def ascend(extract, shape, count, seed=0):
    """Images (count, H, W, C), float32 in 0–255, each raised to excite its own channel of `extract`."""
    rng = np.random.default_rng(seed)
    images = tf.Variable(128 + rng.normal(0, 8, (count, *shape)).astype(np.float32))
    channels = tf.range(count)
    for step in range(STEPS):
        dy, dx = (int(v) for v in rng.integers(-JITTER, JITTER + 1, 2))
        with tf.GradientTape() as tape:
            shifted = tf.roll(images, shift=[dy, dx], axis=[1, 2])
            maps = tf.cast(extract(shifted, training=False), tf.float32)  # (count, h, w, channels)
            # Image i raises the mean of channel i only (the images do not mix: inference mode).
            own = tf.gather(tf.reduce_mean(maps, axis=(1, 2)), channels[:, None], axis=1, batch_dims=1)
            score = tf.reduce_sum(own)
        grads = tape.gradient(score, images)
        grads /= tf.math.reduce_std(grads, axis=(1, 2, 3), keepdims=True) + 1e-8
        images.assign(tf.clip_by_value(images + STEP_SIZE * grads, 0.0, 255.0))
        if (step + 1) % REGULARISE_EVERY == 0 and step + 1 < STEPS:
            images.assign(128 + DECAY * (_blur(images) - 128))
    return images.numpy()


def to_picture(image):
    """A pattern at full contrast, uint8: its range spread over 0–255 (keras-io's deprocessing)."""
    low, high = np.percentile(image, [1, 99])
    return np.clip((image - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)


def filter_patterns(model, model_key, layer, test_images):
    """{layer, filters (channel indices), patterns (uint8 (k, H, W, C)), pattern_activation (k,),
    mean_image_activation (k,), top_images (k, TOP_IMAGES) test-image indices} for the first
    PATTERN_COUNT channels of `layer` (one of `cam_layers`), made once per model version."""
    allowed = cam_layers(model)
    if layer not in allowed:
        raise ParamError(_("This model has no convolution {layer}: choose one of {allowed}.").format(
            layer=repr(layer), allowed=", ".join(allowed)))

    def make():
        extract = _extractor(model, layer)
        count = min(PATTERN_COUNT, int(extract.output.shape[-1]))
        shape = tuple(model.inputs[0].shape[1:])
        raw = ascend(extract, shape, count)
        images = np.asarray(test_images[:MAX_TEST_IMAGES], np.float32)
        per_image = filter_activation(extract, images)[:, :count]  # (N, k)
        own = filter_activation(extract, raw)[np.arange(count), np.arange(count)]
        mean_image = filter_activation(extract, images.mean(axis=0, keepdims=True))[0, :count]
        return {"layer": layer, "filters": list(range(count)), "patterns": np.stack([to_picture(r) for r in raw]),
                "pattern_activation": own, "mean_image_activation": mean_image,
                "top_images": np.argsort(-per_image, axis=0)[:TOP_IMAGES].T}
    return _patterns.get_or_create((*model_key, layer), make)
