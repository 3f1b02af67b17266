"""tf.data input pipelines: uint8 images in, shuffled, batched, cast and augmented per batch."""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from cifar_core.config.hparams import AUGMENTATIONS
from cifar_core.data.parsed_cache import take_rows

CROP_PIXELS = 2


def make_augmenter(augment, seed=None, image_size=(32, 32)):
    """Keras preprocessing layers for the notebooks' ImageDataGenerator options; None if empty.
    `image_size`: (height, width) of the images it will get.

    flip: horizontal flips; shift: up to 10 % of width and height; rotation: up to ±15°;
    zoom: up to ±10 %. Edges are filled with the nearest pixel, as ImageDataGenerator did.
    crop: a move of up to CROP_PIXELS whole pixels, the edge mirrored (a crop of the image padded
    by reflection, as the CIFAR-10 speed records translate).
    """
    unknown = set(augment or ()) - set(AUGMENTATIONS)
    assert not unknown, unknown
    steps = []
    if "flip" in augment:
        steps.append(layers.RandomFlip("horizontal", seed=seed, name="flip"))
    if "shift" in augment:
        steps.append(layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed, name="shift"))
    if "rotation" in augment:
        steps.append(layers.RandomRotation(15 / 360, fill_mode="nearest", seed=seed, name="rotation"))
    if "zoom" in augment:
        steps.append(layers.RandomZoom(0.1, fill_mode="nearest", seed=seed, name="zoom"))
    if "crop" in augment:
        height, width = image_size  # Keras takes the move as a share of the side
        steps.append(layers.RandomTranslation(CROP_PIXELS / height, CROP_PIXELS / width, fill_mode="reflect",
                                              interpolation="nearest", seed=seed, name="crop"))
    return keras.Sequential(steps, name="augment") if steps else None


def make_pipeline(images, labels, batch_size, indices=None, shuffle_seed=None, augmenter=None):
    """A tf.data pipeline over the rows `indices` (default: all) of uint8 `images` (N, H, W, C).

    Batches are gathered from the NumPy array itself, so neither a split nor TensorFlow holds a
    second copy of the images; floats exist one batch at a time. Shuffling permutes indices only.
    """
    images = images if isinstance(images, np.memmap) else np.asarray(images)  # keep a mapping for take_rows
    labels = np.asarray(labels, dtype=np.int32)
    indices = np.arange(len(labels)) if indices is None else np.asarray(indices)
    shape = (None, *images.shape[1:])

    def gather(idx):
        batch_x, batch_y = tf.numpy_function(lambda i: (take_rows(images, i), labels[i]), [idx],
                                             (tf.uint8, tf.int32), stateful=False)
        batch_x.set_shape(shape)
        batch_y.set_shape((None,))
        return tf.cast(batch_x, tf.float32), batch_y

    ds = tf.data.Dataset.from_tensor_slices(indices.astype(np.int64))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(indices), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(gather, num_parallel_calls=2)
    if augmenter is not None:
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=os.cpu_count() or 2)
    # Fixed parallelism, no autotuning: the autotuner's thread made deleting each iterator (twice an
    # epoch, once an evaluation) wait about 0.4 s, half the time.
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)


def augment_preview(images, augment, copies=4, seed=0):
    """`copies` augmented versions of each uint8 image: uint8 (N, copies, H, W, C)."""
    augmenter = make_augmenter(augment, seed=seed, image_size=np.shape(images)[1:3])
    batch = np.repeat(np.asarray(images), copies, axis=0).astype(np.float32)
    if augmenter is not None:
        batch = np.asarray(augmenter(batch, training=True))
    out = np.clip(np.round(batch), 0, 255).astype(np.uint8)
    return out.reshape(len(images), copies, *out.shape[1:])
