"""What runs on the Dask workers: trainings, evaluations and inspection (TensorFlow lives only here).

A training task trains in a scratch folder of its own worker and sends its run's live state to the
server through a Dask queue: the start, per-batch losses, and after every epoch the history and a
note of the changed model files, which the server then pulls from this worker (`pull_files_task`).
At the end it returns the whole folder (models, history, TensorBoard logs). So the server's runs
folder is complete even when the worker is on another machine with no shared disk. Inspection tasks
read the server's runs folder directly: they run on a worker of the server's own machine (see
`cluster`).
"""

import os
import resource
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

from distributed import Event, Queue, get_client, get_worker, secede

from cifar_core.cache import BoundedCache
from cifar_core.data import datasets
from cifar_core.data.datasets import DATA_ENV, load_dataset
from cifar_core.errors import CoreError, DataError
from cifar_core.protocol import INTERRUPTED, names, shared_data_name
from cifar_core.runs.store import CONFIG, HISTORY, STATUS, RunStore, write_json
from cifar_core.worker.adversarial import nudge, smallest_epsilon
from cifar_core.worker.evaluation import evaluate_run, load_run_model
from cifar_core.worker.filter_patterns import filter_patterns
from cifar_core.worker.inspection import (
    cam_layers,
    feature_layers,
    feature_maps,
    first_conv_filters,
    first_conv_trains,
    fresh_model,
    grad_cam,
    predict_image,
    weight_histogram,
    weight_layers,
)
from cifar_core.worker.lr_finder import find_learning_rate
from cifar_core.worker.model_export import export_model
from cifar_core.worker.models import build_model, layer_table
from cifar_core.worker.pipeline import augment_preview
from cifar_core.worker.projector import projection
from cifar_core.worker.reporting import Sender
from cifar_core.worker.training import measure_speed, train_run


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def use_data_of(data_env, dataset=None, client=None):
    """Point this worker at the server's dataset files (a worker of the server's machine), or, on a
    lab worker without its own copy, take the copy the server shared through the scheduler."""
    if data_env is not None:
        for key in DATA_ENV:
            if data_env.get(key) is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = data_env[key]
    if dataset is None or datasets.is_available(dataset):
        return
    shared = client.get_dataset(shared_data_name(dataset), default=None) if client is not None else None
    if shared is None:
        raise DataError(f"{dataset} is not on worker {os.uname().nodename} and the server did not send it.")
    try:
        fields = shared.result()  # the Dataset's fields as NumPy arrays and built-in types
    except Exception as exc:  # the worker holding the copy left, or the scheduler forgot it
        raise DataError(f"The copy of {dataset} the server sent was lost ({type(exc).__name__}); start the run "
                        f"again, or give worker {os.uname().nodename} its own copy.") from None
    datasets.use_received(fields)


def warm_up():
    """Nothing but the import of this module, which loads TensorFlow and Keras: submitted once to
    each new worker, so that the first click does not wait for them."""
    return os.getpid()


def _watch_stop(stop, stop_flag, done):
    """Turn the run's Dask stop event into the local flag the training callback reads every batch."""
    while not done.is_set():
        try:
            if stop.wait(timeout=0.5):
                stop_flag.set()
                return
        except Exception:  # the scheduler is briefly unreachable: keep training, look again
            time.sleep(0.5)


def run_folder_bytes(folder):
    """Every file of a run folder as {relative path: bytes} (models, history, TensorBoard logs)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


_training_folders = {}  # run_id -> its folder in this worker's scratch, while its training task runs


def pull_files_task(run_id, names):
    """{name: bytes} of the named files of a run training in this process, for the server, which
    submits this task pinned to the worker (so the bytes go straight to it, not through the
    scheduler). Files that are gone are left out: the run has ended (its result brings the whole
    folder) or this is another worker."""
    folder = _training_folders.get(run_id)
    files = {}
    for name in names if folder is not None else ():
        path = (folder / name).resolve()
        try:
            if path.is_relative_to(folder.resolve()):
                files[name] = path.read_bytes()
        except OSError:  # the run ended meanwhile and its scratch folder went
            pass
    return files


def train_task(run_id, config, data_env=None):
    """Train one run on this worker. Returns {status, reason, record, files, worker}.

    Dask runs a task again elsewhere when its worker dies; a run is never started twice from
    scratch: a second attempt returns at once as interrupted, and the server keeps what the first
    attempt sent.
    """
    client, worker = get_client(), get_worker()
    worker_name = f"{worker.name} on {socket.gethostname()}"
    dask = names(run_id)
    started = Event(dask["started"], client=client)
    if started.is_set():
        return {"status": "interrupted", "reason": INTERRUPTED, "files": {}, "record": {}, "worker": worker_name}
    started.set()
    stop = Event(dask["stop"], client=client)
    if stop.is_set():
        return {"status": "stopped", "reason": "Stopped before it started.", "files": {}, "record": {},
                "worker": worker_name}
    # Leave the worker's thread pool (its one thread on training workers) while keeping the 'train'
    # resource: the server's pulls of this run's files then run beside the training.
    secede()
    queue = Queue(dask["queue"], client=client)
    scratch = Path(tempfile.mkdtemp(prefix="cifar-core-run-", dir=worker.local_directory))
    store = RunStore(scratch)
    stop_flag, done = threading.Event(), threading.Event()
    sender = None
    try:
        folder = store.path(run_id)
        folder.mkdir(parents=True)
        _training_folders[run_id] = folder
        write_json(folder / CONFIG, config)
        write_json(folder / HISTORY, {"epochs": [], "batches": []})
        sender = Sender(queue, store, run_id, worker_name, worker.address)
        try:
            use_data_of(data_env, config["dataset"], client)
        except CoreError as exc:
            return {"status": "failed", "reason": str(exc), "files": {}, "record": {}, "worker": worker_name}
        threading.Thread(target=_watch_stop, args=(stop, stop_flag, done), daemon=True).start()
        outcome = train_run(store, run_id, sender, stop_flag)
        record = dict(store.status(run_id), peak_rss_mb=peak_rss_mb())
        files = {name: data for name, data in run_folder_bytes(folder).items()
                 if name not in (CONFIG, STATUS)}
        return {**outcome, "record": record, "files": files, "worker": worker_name}
    finally:
        done.set()
        if sender is not None:
            sender.close()  # its last messages go before the queue closes
        _training_folders.pop(run_id, None)
        queue.close()  # the server closes its own handle once it has read the last message
        shutil.rmtree(scratch, ignore_errors=True)


def lr_find_task(config, stop_name, data_env=None):
    """The learning-rate range test of `config` on this training worker (see `lr_finder`); the Dask
    event `stop_name` cancels it at its next batch."""
    client = get_client()
    use_data_of(data_env, config["dataset"], client)
    stop_flag, done = threading.Event(), threading.Event()
    threading.Thread(target=_watch_stop, args=(Event(stop_name, client=client), stop_flag, done), daemon=True).start()
    try:
        return find_learning_rate(config, stop_flag)
    finally:
        done.set()


# ---- inspection and evaluation: a worker on the server's machine, reading its runs folder ----------

_fresh_models = BoundedCache(4)  # run_id and config -> a freshly initialised model of its architecture


def _model(runs_dir, run_id):
    return load_run_model(RunStore(runs_dir), run_id)


def evaluate_task(runs_dir, run_id, data_env, queue_name=None):
    """The run's test-set evaluation; progress goes to the queue `queue_name` as [done, total]."""

    use_data_of(data_env)
    queue = Queue(queue_name, client=get_client()) if queue_name else None
    last = [0.0]

    def progress(done, total):
        if queue is not None and (time.monotonic() - last[0] > 0.2 or done == total):
            last[0] = time.monotonic()
            queue.put([done, total])

    try:
        return evaluate_run(RunStore(runs_dir), run_id, progress=progress)
    finally:
        if queue is not None:
            queue.close()


def model_info_task(runs_dir, run_id):
    """What the Feature maps page lists: layers with maps, layers with weights, first-layer filters
    and whether they train."""
    model = _model(runs_dir, run_id)
    return {"feature_layers": feature_layers(model), "weight_layers": weight_layers(model),
            "cam_layers": cam_layers(model), "filters": first_conv_filters(model),
            "filters_train": first_conv_trains(model)}


def feature_maps_task(runs_dir, run_id, image, layers):
    return feature_maps(_model(runs_dir, run_id), image, layers)


def grad_cam_task(runs_dir, run_id, image, class_indices, layer):
    return grad_cam(_model(runs_dir, run_id), image, class_indices, layer)


def predict_task(runs_dir, run_id, image, class_names):
    return predict_image(_model(runs_dir, run_id), image, class_names)


def histogram_task(runs_dir, run_id, layer):
    store = RunStore(runs_dir)
    config = store.config(run_id)
    fresh = _fresh_models.get_or_create((run_id, repr(config)), lambda: fresh_model(config))
    return weight_histogram(_model(runs_dir, run_id), fresh, layer)


def layer_table_task(arch, shape, num_classes, hparams):
    model = build_model(arch, shape, num_classes, hparams)
    return model.count_params(), layer_table(model)


def augment_preview_task(dataset, augment, data_env, count=4, copies=5):
    use_data_of(data_env)
    return augment_preview(load_dataset(dataset).x_train[:count], augment, copies=copies, seed=0)


def nudge_task(runs_dir, run_id, image, class_index, epsilon, class_names):
    return nudge(_model(runs_dir, run_id), image, class_index, epsilon, class_names)


def smallest_epsilon_task(runs_dir, run_id, image, class_index):
    return smallest_epsilon(_model(runs_dir, run_id), image, class_index)


def _model_key_and_test_images(runs_dir, run_id, data_env):
    """The run's model, its cache key (the file's path and mtime) and its dataset's test images."""
    use_data_of(data_env)
    store = RunStore(runs_dir)
    stamp = store.model_stamp(run_id)
    images = load_dataset(store.config(run_id)["dataset"]).x_test
    return _model(runs_dir, run_id), (str(store.path(run_id) / stamp["model"]), stamp["mtime_ns"]), images


def projection_task(runs_dir, run_id, method, data_env):
    """The test images' embedding projected to 2-D (see `projector.projection`)."""
    model, model_key, images = _model_key_and_test_images(runs_dir, run_id, data_env)
    return projection(model, model_key, images, method)


def filter_patterns_task(runs_dir, run_id, layer, data_env):
    """What the first filters of `layer` look for, and the test images that excite each most."""
    model, model_key, images = _model_key_and_test_images(runs_dir, run_id, data_env)
    return filter_patterns(model, model_key, layer, images)


def export_model_task(runs_dir, run_id, fmt):
    return export_model(RunStore(runs_dir), run_id, fmt)


def speed_task(config, data_env):
    """Seconds per batch of a run of `config`, measured on a few real batches (see `estimate`)."""
    use_data_of(data_env)
    return measure_speed(config)


TASKS = {task.__name__: task for task in (
    warm_up, train_task, pull_files_task, evaluate_task, model_info_task, feature_maps_task, grad_cam_task, predict_task,
    histogram_task, layer_table_task, augment_preview_task, speed_task, lr_find_task, export_model_task,
    nudge_task, smallest_epsilon_task, projection_task, filter_patterns_task)}
