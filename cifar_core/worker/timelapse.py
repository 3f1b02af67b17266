"""The time-lapse recorder: a Keras callback that snapshots the run's probe and its validation
predictions before training and after every epoch it can afford (the format and the reading are in
`cifar_core.runs.timelapse`)."""

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
    write_validation,
)
from cifar_core.worker.inspection import cam_layers, class_activation_maps, first_conv_filters


def recorder(run_folder, images, labels, epochs, val_ds=None, val_rows=None, val_labels=None):
    """A Keras callback (in the training worker) that records, before training and after every epoch
    it can afford: the probe of `images` (uint8 test images, their `labels`): maps, first-layer
    filters and Grad-CAM; and the predictions on `val_ds`, the validation pipeline (rows
    `val_rows` of the training set, labelled `val_labels`), in its order."""
    indices = probe_indices(labels)
    probe = np.asarray(images)[indices].astype(np.float32)
    probe_labels = np.asarray(labels)[indices].astype(np.int32)
    folder = run_folder / FOLDER

    class Timelapse(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            names = cam_layers(self.model)
            self.layers = {"first": names[0], "deeper": names[len(names) // 2]} if names else {}
            self.cam_layer = names[-1] if names else None  # the last convolution, as Feature maps' default
            self.extract = keras.Model(inputs=self.model.inputs,
                                       outputs=[self.model.get_layer(n).output for n in self.layers.values()]) \
                if self.layers else None
            folder.mkdir(parents=True, exist_ok=True)
            if val_ds is not None:
                write_validation(folder, val_rows, val_labels)
            (folder / PROBE).write_text(json.dumps({"indices": indices, "layers": self.layers,
                                                    "cam_layer": self.cam_layer}))
            self.plan = None
            self.snapshot(0)

        def on_epoch_end(self, epoch, logs=None):
            if self.plan is None or epoch + 1 in self.plan:
                self.snapshot(epoch + 1)

        def snapshot(self, epoch):
            maps, extra = {}, {}
            if self.extract is not None:
                outputs = self.extract([probe], training=False)
                outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
                maps = {role: quantise_maps(np.asarray(o, np.float32)) for role, o in zip(self.layers, outputs)}
            if val_ds is not None:
                # One extra pass over the validation images (Keras's own pass keeps only the metrics).
                probabilities = self.model.predict(val_ds, verbose=0)
                extra["val_predicted"] = probabilities.argmax(axis=1).astype(np.uint8)
                extra["val_confidence"] = probabilities.max(axis=1).astype(np.float16)
            if self.cam_layer is not None:
                extra.update(self.probe_cams())
            size = write_snapshot(folder, epoch, first_conv_filters(self.model), maps, extra)
            if self.plan is None:  # the first snapshot tells what every later one will cost
                self.plan = set(epochs_to_record(epochs, size * 1.1))

        def probe_cams(self):
            """The probe's Grad-CAM for its true class and for the predicted one, as uint8 (P, 2, h, w)."""
            predicted = np.asarray(self.model(probe, training=False)).argmax(axis=1).astype(np.int32)
            classes = np.concatenate([probe_labels, predicted])
            heatmaps, _ = class_activation_maps(self.model, np.concatenate([probe, probe]), classes, self.cam_layer)
            heatmaps = np.nan_to_num(heatmaps).reshape(2, len(probe), *heatmaps.shape[1:]).swapaxes(0, 1)
            return {"cam": np.round(255 * heatmaps).astype(np.uint8),
                    "cam_classes": np.stack([probe_labels, predicted], axis=1).astype(np.uint8)}

    return Timelapse()
