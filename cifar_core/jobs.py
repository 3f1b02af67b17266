"""The job manager: trainings run in background threads, at most N at once, the rest queued.

A caller submits a run and returns at once, then polls `progress(run_id)` and may
`stop(run_id)`. One manager per process and runs folder; the dashboard shares it
between sessions through `st.cache_resource`, so every method here is thread-safe.
"""

import collections
import os
import threading
import time

from .curves import batch_series
from .errors import ParamError, RunError
from .process import configure_process
from .runs import ACTIVE, RunStore
from .training import TrainingListener, make_config, train_run

MAX_LIVE_BATCHES = 2000  # per-batch points kept in memory for live charts


def default_max_jobs():
    value = os.environ.get("CIFAR_CORE_MAX_JOBS", "1")
    try:
        n = int(value)
        if not 1 <= n <= 64:
            raise ValueError
    except ValueError:
        raise ParamError(f"CIFAR_CORE_MAX_JOBS must be between 1 and 64, got {value!r}.") from None
    return n


class Progress(TrainingListener):
    """Live state of one run, written by its training thread and read as snapshots."""

    def __init__(self, run_id, epochs):
        self._lock = threading.Lock()
        self.run_id = run_id
        self.status, self.reason = "queued", ""
        self.epochs, self.steps_per_epoch, self.n_train = epochs, None, None
        self.epoch, self.batch = 0, 0
        self.batches = collections.deque(maxlen=MAX_LIVE_BATCHES)  # (fractional epoch, loss, accuracy)
        self.epoch_records = []
        self.started = self.ended = None

    def on_start(self, info):
        with self._lock:
            self.status, self.started = "running", time.time()
            self.steps_per_epoch, self.n_train = info["steps_per_epoch"], info["n_train"]

    def on_batch(self, epoch, batch, logs):
        with self._lock:
            self.epoch, self.batch = epoch, batch + 1
            self.batches.append((epoch + (batch + 1) / self.steps_per_epoch, logs["loss"], logs["accuracy"]))

    def on_epoch(self, record):
        with self._lock:
            self.epoch_records.append(record)
            self.epoch, self.batch = record["epoch"], 0

    def on_end(self, status, reason):
        with self._lock:
            self.status, self.reason, self.ended = status, reason, time.time()

    def snapshot(self):
        """A plain dict copy: fraction done, seconds left, per-batch and per-epoch series."""
        with self._lock:
            total = (self.steps_per_epoch or 0) * self.epochs
            done = (self.steps_per_epoch or 0) * self.epoch + self.batch
            elapsed = (self.ended or time.time()) - self.started if self.started else 0.0
            fraction = done / total if total else 0.0
            return {
                "run_id": self.run_id, "status": self.status, "reason": self.reason,
                "epoch": self.epoch, "epochs": self.epochs, "batch": self.batch,
                "steps_per_epoch": self.steps_per_epoch, "fraction": min(fraction, 1.0),
                "elapsed": elapsed,
                "seconds_left": elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else None,
                "batches": list(self.batches), "epoch_records": list(self.epoch_records),
            }


class JobManager:
    def __init__(self, runs_dir=None, max_jobs=None):
        configure_process()  # this process trains: cap malloc's arenas before the training threads start
        self.store = RunStore(runs_dir)
        self.max_jobs = max_jobs or default_max_jobs()
        self._lock = threading.Lock()
        self._queue = collections.deque()
        self._progress = {}  # run_id -> Progress, for every run this manager has seen
        self._stops = {}  # run_id -> threading.Event
        self._threads = {}  # run_id -> Thread, for running runs

    def submit(self, dataset, arch, hparams=None, **training):
        """Check the config, create the run folder and queue it. Returns the run id at once."""
        config = make_config(dataset, arch, hparams, **training)
        run_id = self.store.create(config)
        with self._lock:
            self._progress[run_id] = Progress(run_id, config["training"]["epochs"])
            self._stops[run_id] = threading.Event()
            self._queue.append(run_id)
            self._start_next()
        return run_id

    def _start_next(self):
        # Called with the lock held.
        while self._queue and len(self._threads) < self.max_jobs:
            run_id = self._queue.popleft()
            thread = threading.Thread(target=self._work, args=(run_id,), name=f"train-{run_id}", daemon=True)
            self._threads[run_id] = thread
            thread.start()

    def _work(self, run_id):
        try:
            train_run(self.store, run_id, self._progress[run_id], self._stops[run_id])
        finally:
            with self._lock:
                self._threads.pop(run_id, None)
                self._start_next()

    def stop(self, run_id):
        """Stop a run at its next batch, or take it off the queue. Returns True if it was active."""
        self.store.require(run_id)
        with self._lock:
            if run_id in self._queue:
                self._queue.remove(run_id)
                self.store.set_status(run_id, "stopped", "Stopped before it started.")
                self._progress[run_id].on_end("stopped", "Stopped before it started.")
                return True
            if run_id in self._threads:
                self._stops[run_id].set()
                return True
        return False

    def progress(self, run_id):
        """A snapshot of a run's progress; for runs of other processes, rebuilt from its folder."""
        with self._lock:
            live = self._progress.get(run_id)
        if live is not None:
            return live.snapshot()
        status, history = self.store.status(run_id), self.store.history(run_id)
        config = self.store.config(run_id)
        epochs = history.get("epochs", [])
        return {"run_id": run_id, "status": status["status"], "reason": status.get("reason", ""),
                "epoch": len(epochs), "epochs": config["training"]["epochs"], "batch": 0,
                "steps_per_epoch": None, "fraction": len(epochs) / config["training"]["epochs"],
                "elapsed": status.get("train_seconds") or 0.0, "seconds_left": None,
                "batches": batch_series(history), "epoch_records": epochs}

    def active(self):
        """Run ids that are running or queued in this process."""
        with self._lock:
            return list(self._threads) + list(self._queue)

    def wait(self, run_id, timeout=None, poll=0.1):
        """Block until the run is no longer queued or running (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.store.status(run_id)["status"] in ACTIVE or run_id in self.active():
            if deadline is not None and time.monotonic() > deadline:
                raise RunError(f"Run {run_id} did not finish within {timeout} s.")
            time.sleep(poll)
        return self.store.status(run_id)
