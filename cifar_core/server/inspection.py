"""What the dashboard and the CLI ask of the inspection worker: plain values and NumPy arrays in and
out, never a Keras object. Trainings go through `jobs.JobManager`.

Each call runs on this machine's inspection worker (see `cluster`), which keeps recently used
models in memory, so feature maps of one image answer in a fraction of a second while runs train.
"""

import time
import uuid

from distributed import Queue

from cifar_core import i18n, worker
from cifar_core.config.hparams import check_epsilon
from cifar_core.errors import CoreError, RunError
from cifar_core.export.formats import check_model_format
from cifar_core.i18n import _
from cifar_core.server import cluster


def _call(task, *args):
    client = cluster.inspection_client()
    try:
        # The worker's messages in the asking tab's language.
        return client.submit(worker.run, task, *args, language=i18n.current_language(), pure=False,
                             resources={"inspect": 1}).result()
    except CoreError:
        raise
    except Exception as exc:  # the worker died or a library error: one line, never a traceback
        raise RunError(_("The inspection worker could not answer ({error}: {detail}).").format(
            error=type(exc).__name__, detail=str(exc)[:200])) from None


def evaluate(store, run_id, progress=None):
    """The run's test-set evaluation (stored in its folder); `progress(done, total)` while it runs."""
    client = cluster.inspection_client()
    # Opened before the task starts, so that the worker's handle never is the only one (releasing
    # the last handle deletes a queue with what it still holds).
    queue = Queue(f"cifar-core-eval-{uuid.uuid4().hex}", client=client) if progress else None
    try:
        future = client.submit(worker.run, "evaluate_task", str(store.root), run_id, cluster.local_data_env(),
                               queue and queue.name, language=i18n.current_language(), pure=False,
                               resources={"inspect": 1})
        while queue is not None:
            finished = future.done()
            for done, total in cluster.take_messages(queue) or ():
                progress(done, total)
            if finished:
                break
            time.sleep(0.1)
        try:
            return future.result()
        except CoreError:
            raise
        except Exception as exc:
            raise RunError(_("The evaluation could not finish ({error}: {detail}).").format(
                error=type(exc).__name__, detail=str(exc)[:200])) from None
    finally:
        if queue is not None:
            queue.close()  # the worker released its own handle when the task ended


def nudge(store, run_id, image, class_index, epsilon, class_names):
    """The fast gradient sign method against `class_index` at ε (pixel levels, see
    `check_epsilon`): {image, difference, predicted, top, cam}."""
    return _call("nudge_task", str(store.root), run_id, image, int(class_index), check_epsilon(epsilon),
                 list(class_names))


def smallest_epsilon(store, run_id, image, class_index):
    """The smallest ε that changes the prediction, or None within the range."""
    return _call("smallest_epsilon_task", str(store.root), run_id, image, int(class_index))


def projection(store, run_id, method):
    """{indices, xy, predicted} of the run's test images at the layer before its classifier,
    projected with `method` ("pca" or "tsne"); computed once per model file."""
    return _call("projection_task", str(store.root), run_id, method, cluster.local_data_env())


def filter_patterns(store, run_id, layer):
    """{layer, filters, patterns (uint8), pattern_activation, mean_image_activation, top_images} of
    the first filters of the convolution `layer`; computed once per model file and layer."""
    return _call("filter_patterns_task", str(store.root), run_id, layer, cluster.local_data_env())


def export_model(store, run_id, fmt):
    """The run's best model for another runtime (`cifar_core.export.formats`): {filename, data}."""
    return _call("export_model_task", str(store.root), run_id, check_model_format(fmt))


def model_info(store, run_id):
    """{feature_layers, weight_layers, cam_layers, filters (uint8 tiles), filters_train (bool)} of the
    run's saved model."""
    return _call("model_info_task", str(store.root), run_id)


def feature_maps(store, run_id, image, layers):
    """Outputs of `layers` for one uint8 image: [{name, type, shape, values}]."""
    return _call("feature_maps_task", str(store.root), run_id, image, list(layers))


def grad_cam(store, run_id, image, class_indices, layer=None):
    """Grad-CAM heatmaps of one uint8 image for each class index (see `inspection.grad_cam`):
    {layer, heatmaps: {class index: float32 (h, w) in 0–1}, probabilities}."""
    return _call("grad_cam_task", str(store.root), run_id, image, [int(c) for c in class_indices], layer)


def predict_image(store, run_id, image, class_names):
    """Top-5 [(class name, probability)] for one uint8 image."""
    return _call("predict_task", str(store.root), run_id, image, list(class_names))


def weight_histogram(store, run_id, layer):
    """Histograms of a layer's kernel, trained against freshly initialised."""
    return _call("histogram_task", str(store.root), run_id, layer)


def layer_table(arch, shape, num_classes, hparams):
    """(parameter count, layer rows) of an architecture, built without training."""
    return _call("layer_table_task", arch, tuple(shape), num_classes, dict(hparams))


def augment_preview(dataset, augment, count=4, copies=5):
    """uint8 (count, copies, H, W, C): random augmented versions of the first training images."""
    return _call("augment_preview_task", dataset, tuple(augment), cluster.local_data_env(), count, copies)


def measure_speed(config):
    """Seconds per training and validation batch, per checkpoint and at the start of a run of
    `config`, measured on a few real batches (see `estimate`)."""
    return _call("speed_task", dict(config), cluster.local_data_env())
