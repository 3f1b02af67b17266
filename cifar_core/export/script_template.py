'''The hand-written parts of an exported Keras script (see `export_script`): its header, imports,
the few helpers the product's package gives the copied functions, and main(). Plain text, so the
web server can write a script without importing Keras.'''

HEADER = '''#!/usr/bin/env python3
"""Reproduces @RUN@ of the CNN dashboard for CIFAR-10, in plain Keras.

@WHAT@

Run it with the official CIFAR-10 archive (or its extracted cifar-10-batches-py folder):

    python THIS_FILE.py cifar-10-python.tar.gz

It needs Python 3.10+, numpy and Keras 3 with a backend (TensorFlow), nothing else. As the run did,
it splits the training images (same seed, stratified by class), standardises them inside the model
with the training split's per-channel mean and variance, augments, trains, keeps the weights of the
epoch with the lowest validation loss and tests them. Its last printed line is JSON with
test_accuracy, epochs and train_seconds. Batches are shuffled in another order than the
dashboard's, so accuracies agree within the noise of a training run, not to the digit.

Every section below the settings marked "from cifar_core/..." is copied from the dashboard's own
source, so the network and the training are the ones the run used. Change a setting in HPARAMS or
TRAINING to try a variant.'''

IMPORTS = '''import argparse
import codecs
import functools
import io
import json
import math
import pickle
import re
import sys
import tarfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import keras
from keras import layers'''

HELPERS = '''# ---- written for this script: what the dashboard's package gives the copied code -------------

class DataError(Exception):
    """A dataset file is missing, corrupt, or refused as unsafe."""


class ParamError(ValueError):
    """A setting is out of its allowed range."""


def _(message):
    """The dashboard shows its messages in the reader's language; this script's stay English."""
    return message


FIX = "Download the official cifar-10-python.tar.gz again, and give its path as the first argument."


def take_rows(array, rows):
    """`array[rows]` as a new array (the dashboard reads the rows of a memory-mapped copy here)."""
    return np.asarray(array)[np.asarray(rows, dtype=np.int64)]


def gpu_available():
    """Whether Keras sees a GPU: then the "auto" precision trains in mixed float16."""
    return bool(keras.distribution.list_devices("gpu"))


def predict_batched(model, images, batch_size=128, progress=None):
    """Class probabilities of uint8 images (N, H, W, C), in batches: float32 (N, classes)."""
    probs = model.predict(np.asarray(images, dtype=np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(probs, dtype=np.float32)'''

VGG16_BASE = '''def vgg16_base(input_tensor, weights="imagenet"):
    """VGG16 without its top, built on `input_tensor` so that its layers join the model's graph.
    ImageNet weights are downloaded once into ~/.keras/models; "none" starts from random weights."""
    return keras.applications.VGG16(include_top=False, input_tensor=input_tensor,
                                    weights=None if weights in (None, "none") else weights)'''

# VGG16 only: the command line chooses its starting weights (machines without the download).
WEIGHTS_OPTION = ('''
    parser.add_argument("--weights", choices=("imagenet", "none"), default=HPARAMS["weights"],
                        help="VGG16's starting weights: ImageNet (downloaded once) or random")''', '''
    hparams["weights"] = args.weights''')

MAIN = '''# ---- training and testing: written for this script ----------------------------------------

class TrainingBatches(keras.utils.PyDataset):
    """The training rows in a new random order every epoch, in batches, each augmented on its own:
    float32 images (B, H, W, C) of 0-255 and int32 labels (B,). (The dashboard does the same in a
    tf.data pipeline.)"""

    def __init__(self, images, labels, rows, batch_size, seed, augmenter=None):
        super().__init__()
        self.images, self.labels, self.rows = images, labels, np.asarray(rows)
        self.batch_size, self.augmenter = batch_size, augmenter
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.rows)

    def __len__(self):
        return math.ceil(len(self.rows) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        images = self.images[rows].astype(np.float32)  # (B, H, W, C), 0-255
        if self.augmenter is not None:
            images = keras.ops.convert_to_numpy(self.augmenter(images, training=True)).astype(np.float32)
        return images, self.labels[rows].astype(np.int32)

    def on_epoch_end(self):
        self.order = self.rng.permutation(self.rows)


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest validation loss: the dashboard tests those
    (its best.keras)."""

    def __init__(self):
        super().__init__()
        self.best_loss, self.best_epoch, self.best_weights = math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is not None and loss < self.best_loss:
            self.best_loss, self.best_epoch, self.best_weights = loss, epoch + 1, self.model.get_weights()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", help="cifar-10-python.tar.gz, or its extracted cifar-10-batches-py folder")@WEIGHTS_OPTION@
    args = parser.parse_args()
    hparams, t = dict(HPARAMS), TRAINING@WEIGHTS_USE@
    try:  # uint8 images (N, 32, 32, 3), int64 labels (N,), the 10 class names
        x_train, y_train, x_test, y_test, class_names = read_cifar10(args.archive)
    except DataError as exc:
        sys.exit(f"error: {exc}")
    ds = Dataset("cifar10", x_train, y_train, x_test, y_test, class_names)
    split = split_dataset(ds, t["val_split"], t["seed"], t["train_size"])  # sorted row indices into x_train
    keras.mixed_precision.set_dtype_policy(dtype_policy(t["precision"]))
    keras.utils.set_random_seed(t["seed"])  # initial weights, dropout and augmentation
    mean, std = channel_stats(ds.x_train, split.train)  # (3,) each, over the training split's pixels
    model = @BUILD@(ds.image_shape, ds.num_classes, mean=mean, variance=np.square(std), **hparams)
    fit_whitening(model, ds.x_train, split.train)  # a whitening first layer's fixed filters, if it has one
    steps = math.ceil(len(split.train) / t["batch_size"])  # batches an epoch
    model.compile(optimizer=make_optimizer(t, steps * t["epochs"]),
                  loss=SparseCrossentropy(ds.num_classes, t["label_smoothing"]),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    batches = TrainingBatches(ds.x_train, ds.y_train, split.train, t["batch_size"], t["seed"],
                              make_augmenter(t["augment"], seed=t["seed"], image_size=ds.image_shape[:2]))
    x_val, y_val = ds.x_train[split.val].astype(np.float32), ds.y_train[split.val]  # (N_val, 32, 32, 3), (N_val,)
    best = BestWeights()
    callbacks = [best, keras.callbacks.TerminateOnNaN()]
    if t["patience"]:  # early stopping, back to the best epoch's weights
        callbacks.append(keras.callbacks.EarlyStopping(patience=t["patience"], restore_best_weights=True))
    print(f"Training on {len(split.train)} images, validating on {len(split.val)}, testing on "
          f"{len(ds.y_test)}: {model.count_params():,} parameters, {model.dtype_policy.name}.")
    started = time.perf_counter()
    history = model.fit(batches, validation_data=(x_val, y_val), validation_batch_size=max(t["batch_size"], 64),
                        epochs=t["epochs"], callbacks=callbacks, verbose=2)
    train_seconds = time.perf_counter() - started
    if best.best_weights is not None:
        model.set_weights(best.best_weights)
    # Class probabilities (N_test, 10); with the test-time flip, averaged with the mirror images'.
    probs = predict_with_flip(model, ds.x_test) if t["tta"] else predict_batched(model, ds.x_test)
    accuracy = float(np.mean(probs.argmax(axis=1) == ds.y_test))
    print(json.dumps({"test_accuracy": round(accuracy, 4), "epochs": len(history.history["loss"]),
                      "best_epoch": best.best_epoch, "train_seconds": round(train_seconds, 1),
                      "n_train": len(split.train), "n_val": len(split.val), "n_test": len(ds.y_test),
                      "dtype_policy": model.dtype_policy.name}))


if __name__ == "__main__":
    main()'''
