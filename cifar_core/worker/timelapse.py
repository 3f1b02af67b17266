"""The time-lapse recorder: a Keras callback that snapshots the run's probe before training and after
every epoch it can afford (the format and the reading are in `cifar_core.runs.timelapse`)."""

import json

import keras
import numpy as np

from cifar_core.runs.timelapse import (
    FOLDER,
    PROBE,
    epochs_to_record,
    probe_indices,
    quantise_maps,
    write_snapshot,
)
from cifar_core.worker.inspection import cam_layers, first_conv_filters


def recorder(run_folder, images, labels, epochs):
    """A Keras callback (in the training worker) that records the probe of `images` (uint8 test
    images, their `labels`) before training and after every epoch it can afford."""
    indices = probe_indices(labels)
    probe = np.asarray(images)[indices].astype(np.float32)
    folder = run_folder / FOLDER

    class Timelapse(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            names = cam_layers(self.model)
            self.layers = {"first": names[0], "deeper": names[len(names) // 2]} if names else {}
            self.extract = keras.Model(inputs=self.model.inputs,
                                       outputs=[self.model.get_layer(n).output for n in self.layers.values()]) \
                if self.layers else None
            folder.mkdir(parents=True, exist_ok=True)
            (folder / PROBE).write_text(json.dumps({"indices": indices, "layers": self.layers}))
            self.plan = None
            self.snapshot(0)

        def on_epoch_end(self, epoch, logs=None):
            if self.plan is None or epoch + 1 in self.plan:
                self.snapshot(epoch + 1)

        def snapshot(self, epoch):
            maps = {}
            if self.extract is not None:
                outputs = self.extract([probe], training=False)
                outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
                maps = {role: quantise_maps(np.asarray(o, np.float32)) for role, o in zip(self.layers, outputs)}
            size = write_snapshot(folder, epoch, first_conv_filters(self.model), maps)
            if self.plan is None:  # the first snapshot tells what every later one will cost
                self.plan = set(epochs_to_record(epochs, size * 1.1))

    return Timelapse()
