"""The source notebooks' way of training, kept only as the benchmarks' baseline.

Whole arrays standardised to float64 in memory, then `model.fit` on NumPy arrays.
"""

import time

import numpy as np

from cifar_core.data.splits import DEFAULT_SEED


def standardise_like_the_notebooks(x_train, x_val):
    """Per-channel mean and std of the training images, applied to float64 copies of both sets."""
    x_train = x_train.astype(np.float64)
    x_val = x_val.astype(np.float64)
    mean = x_train.mean(axis=(0, 1, 2))
    std = x_train.std(axis=(0, 1, 2))
    return (x_train - mean) / std, (x_val - mean) / std


def train_notebook_way(x_train, y_train, x_val, y_val, epochs=2, batch_size=32, learning_rate=1e-4, seed=DEFAULT_SEED):
    """Train seed_cnn as the notebook did; returns per-epoch seconds (training and validation)."""
    import keras

    from cifar_core.worker.models import build_model

    keras.utils.set_random_seed(seed)
    xs_train, xs_val = standardise_like_the_notebooks(x_train, x_val)
    channels = x_train.shape[-1]
    # The same layers as the product's seed_cnn; its input stage is the identity here because the
    # arrays are already standardised.
    model = build_model("seed_cnn", x_train.shape[1:], 10, mean=[0.0] * channels, variance=[1.0] * channels)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(xs_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=(xs_val, y_val),
              callbacks=[EpochTimer()], verbose=0)
    return seconds
