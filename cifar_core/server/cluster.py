"""Connections to the Dask workers: the only client-side module that starts or joins a cluster.

Trainings go to `training_client()`: a local cluster of worker processes started on first use
(`CIFAR_CORE_MAX_JOBS` of them, one training each), or a lab's scheduler named by
`CIFAR_CORE_SCHEDULER`. Evaluation and inspection go to `inspection_client()`: always a local
worker process of its own, so that they never wait behind a training nor share its process, and
read this machine's runs folder directly.
"""

import logging
import os
import pkgutil
import threading

from distributed import Client, LocalCluster, fire_and_forget

from cifar_core import worker
from cifar_core.data.datasets import DATA_ENV
from cifar_core.errors import ParamError, RunError
from cifar_core.i18n import _, ngettext

SCHEDULER_ENV = "CIFAR_CORE_SCHEDULER"
CONNECT_SECONDS = 10
INSPECTION_THREADS = 2  # an evaluation and a feature-map request side by side

_lock = threading.Lock()
_clients = {}  # "train" / "inspect" -> distributed.Client
_checked = {}  # lab client id -> addresses of its training workers that import the product

# What a training task's graph names: a process that resolves it can unpickle the task (the scheduler
# does too). A stdlib function does the import, so that the probe itself unpickles anywhere.
PRODUCT_PROBE = "cifar_core.worker:run.__name__"
INSTALL = "pip install -r requirements.txt"
CHECK_SECONDS = 10


def scheduler_address():
    """The lab's scheduler (tcp://HOST:8786), or None for this machine's own workers."""
    return os.environ.get(SCHEDULER_ENV, "").strip() or None


def default_max_jobs():
    value = os.environ.get("CIFAR_CORE_MAX_JOBS", "1")
    try:
        n = int(value)
        if not 1 <= n <= 64:
            raise ValueError
    except ValueError:
        raise ParamError(_("{variable} must be between 1 and 64, got {value}.").format(
            variable="CIFAR_CORE_MAX_JOBS", value=repr(value))) from None
    return n


def local_data_env():
    """Where this machine's datasets are: its own workers read the same files."""
    return {key: os.environ.get(key) for key in DATA_ENV}


def take_messages(queue):
    """Every message waiting in a Dask queue, without blocking; None if the scheduler is unreachable.
    (A blocking get with a timeout makes the scheduler log an error each time it times out.)"""
    try:
        return queue.get(batch=True)
    except Exception:
        return None


def _worker_env():
    # Read by each worker process before TensorFlow starts (see `process.configure_process`).
    return {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), "MALLOC_ARENA_MAX": "2"}


def _local_cluster(n_workers, threads, resources):
    logging.getLogger("distributed").setLevel(logging.ERROR)  # its scheduler runs in this process
    # ":0": its status pages on any free port (a fixed one would clash between processes).
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads, processes=True,
                           resources=resources, dashboard_address=":0", silence_logs=logging.ERROR,
                           env=_worker_env())
    client = Client(cluster, set_as_default=False, direct_to_workers=True)
    for address in client.scheduler_info(n_workers=-1)["workers"]:
        # TensorFlow loads while nobody waits (a future nobody holds would be cancelled).
        fire_and_forget(client.submit(worker.run, "warm_up", workers=[address], pure=False))
    return client


def _lab_client(address):
    try:
        # Results come straight from the worker: a checkpoint never passes through the scheduler.
        return Client(address, timeout=CONNECT_SECONDS, set_as_default=False, direct_to_workers=True)
    except (OSError, TimeoutError) as exc:
        raise RunError(_("Cannot reach the Dask scheduler at {address} ({error}). Start it with 'dask scheduler', "
                         "or unset {variable} to train on this machine.").format(
            address=address, error=type(exc).__name__, variable=SCHEDULER_ENV)) from None


def _usable(client):
    return client is not None and client.status in ("running", "connecting", "newly-created")


def training_client():
    """The client that trainings are submitted to; connects (or starts the local cluster) once."""
    with _lock:
        client = _clients.get("train")
        if not _usable(client):
            address = scheduler_address()
            client = _lab_client(address) if address else _local_cluster(default_max_jobs(), 1, {"train": 1})
            _clients["train"] = client
        return client


def inspection_client():
    """The client of this machine's inspection worker (evaluation, feature maps, layer tables)."""
    with _lock:
        client = _clients.get("inspect")
        if not _usable(client):
            client = _clients["inspect"] = _local_cluster(1, INSPECTION_THREADS, {"inspect": INSPECTION_THREADS})
        return client


def start_in_background():
    """Start (or join) the clusters now, in a thread: the dashboard's first click then finds warm
    workers. Problems surface, with their message, on first real use."""
    def start():
        for connect in (inspection_client, training_client):
            try:
                connect()
            except Exception:
                pass
    threading.Thread(target=start, name="cifar-core-cluster-start", daemon=True).start()


def describe_workers():
    """Where trainings run, in words, without waiting for a cluster to start."""
    client = _clients.get("train")  # not under the lock: a cluster being started holds it for seconds
    address = scheduler_address()
    if not _usable(client):
        if address:
            return _("Connecting to the lab's scheduler at {address} …").format(address=address)
        return _("Starting the local workers …")
    try:
        workers = client.scheduler_info()["workers"].values()
    except Exception:
        if address:
            return _("The scheduler at {address} does not answer.").format(address=address)
        return _("The local workers do not answer.")
    slots = int(sum(w.get("resources", {}).get("train", 0) for w in workers))
    # Whole sentences, counted by trainings: one for each place and for one worker or several.
    if address and len(workers) == 1:
        text = ngettext("{slots} training at once on {workers} worker (the lab's scheduler at {address}).",
                        "{slots} trainings at once on {workers} worker (the lab's scheduler at {address}).", slots)
    elif address:
        text = ngettext("{slots} training at once on {workers} workers (the lab's scheduler at {address}).",
                        "{slots} trainings at once on {workers} workers (the lab's scheduler at {address}).", slots)
    elif len(workers) == 1:
        text = ngettext("{slots} training at once on {workers} worker (this machine).",
                        "{slots} trainings at once on {workers} worker (this machine).", slots)
    else:
        text = ngettext("{slots} training at once on {workers} workers (this machine).",
                        "{slots} trainings at once on {workers} workers (this machine).", slots)
    return text.format(slots=slots, workers=len(workers), address=address)


def check_lab(client):
    """Raise RunError, one line naming the cause and the fix, when a lab's trainings could not run:
    its scheduler or one of its training workers cannot import the product, or no worker takes
    trainings. The scheduler is asked once per connection, each worker once when first seen."""
    address = scheduler_address()
    with _lock:
        known = _checked.get(client.id)
    if known is None:
        try:
            client.run_on_scheduler(pkgutil.resolve_name, PRODUCT_PROBE, callback_timeout=CHECK_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise RunError(_("The Dask scheduler at {address} does not answer ({error}); start it again with "
                             "'dask scheduler'.").format(address=address, error=type(exc).__name__)) from None
        except Exception as exc:
            raise RunError(_("The Dask scheduler at {address} cannot import cifar_core ({error}: {detail}); run "
                             "'{command}' in the project's folder with the Python that runs 'dask scheduler', "
                             "then start it again.").format(address=address, error=type(exc).__name__, detail=exc,
                                                            command=INSTALL)) from None
        known = set()
    workers = client.scheduler_info(n_workers=-1)["workers"]
    trainers = [a for a, w in workers.items() if w.get("resources", {}).get("train", 0) > 0]
    if not trainers:
        command = f"dask worker {address} --nworkers 1 --nthreads 1 --resources train=1"
        if workers:
            message = _("No worker can train on the scheduler at {address} ({count} connected, none with a 'train' "
                        "resource): start one with '{command}'.")
        else:
            message = _("No worker can train on the scheduler at {address} (none connected): start one with "
                        "'{command}'.")
        raise RunError(message.format(address=address, count=len(workers), command=command))
    new = [a for a in trainers if a not in known]
    try:
        answers = client.run(pkgutil.resolve_name, PRODUCT_PROBE, workers=new, on_error="return",
                             callback_timeout=CHECK_SECONDS) if new else {}
    except (OSError, TimeoutError):
        answers = {}  # a worker busy or leaving: asked again at the next submit
    for worker_address, answer in answers.items():
        if isinstance(answer, Exception) and not isinstance(answer, OSError):  # OSError: it left meanwhile
            raise RunError(_("Worker {name} ({address}) cannot import cifar_core ({error}: {detail}); run "
                             "'{command}' in the project's folder with the Python that runs 'dask worker' there, "
                             "then start it again.").format(name=workers[worker_address].get("name"),
                                                            address=worker_address, error=type(answer).__name__,
                                                            detail=answer, command=INSTALL))
    with _lock:
        _checked[client.id] = known | {a for a, answer in answers.items() if not isinstance(answer, Exception)}


def training_capacity(client):
    """How many trainings the workers take at once (their 'train' resources)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    return int(sum(w.get("resources", {}).get("train", 0) for w in workers))


def worker_processes():
    """Process ids of this machine's local workers (for tests and benchmarks)."""
    pids = []
    with _lock:
        clients = [c for c in _clients.values() if _usable(c)]
    for client in clients:
        if client.cluster is not None:
            pids += list(client.run(os.getpid).values())
    return pids


def close():
    """Shut the local clusters down and leave the lab's scheduler (tests, the CLI on exit)."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
        _checked.clear()
    for client in clients:
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
