"""How a training reports to the server mid-run: small messages through the run's Dask queue."""

import time

from cifar_core.runs.timelapse import FOLDER as TIMELAPSE
from cifar_core.worker.training import TrainingListener

BATCH_SEND_SECONDS = 0.25  # per-batch points go out at most this often


class Sender(TrainingListener):
    """Sends a run's progress and changed files to the server's queue, from the training thread."""

    def __init__(self, queue, store, run_id, worker):
        self.queue, self.store, self.run_id, self.worker = queue, store, run_id, worker
        self.points, self.last_sent, self.sent_files = [], 0.0, {}
        self.steps = None

    def send(self, message):
        self.queue.put(message)

    def on_start(self, info):
        self.steps = info["steps_per_epoch"]
        self.send({"kind": "start", "worker": self.worker, "info": info})

    def on_batch(self, epoch, batch, logs):
        self.points.append([epoch, batch, logs["loss"], logs["accuracy"]])
        if time.monotonic() - self.last_sent >= BATCH_SEND_SECONDS:
            self.flush()

    def flush(self):
        if self.points:
            self.send({"kind": "batches", "points": self.points})
            self.points = []
        self.last_sent = time.monotonic()

    def changed_files(self):
        """Model files and time-lapse snapshots saved since the last message: a checkpoint and the
        epoch's snapshot reach the server every epoch."""
        changed = {}
        folder = self.store.path(self.run_id)
        for path in [*folder.glob("*.keras"), *folder.glob(f"{TIMELAPSE}/*")]:
            name = str(path.relative_to(folder))
            stamp = path.stat().st_mtime_ns
            if ".part" not in path.name and self.sent_files.get(name) != stamp:
                changed[name] = path.read_bytes()
                self.sent_files[name] = stamp
        return changed

    def on_epoch(self, record):
        self.flush()
        self.send({"kind": "epoch", "record": record, "history": self.store.history(self.run_id),
                   "files": self.changed_files()})

    def on_end(self, status, reason):
        self.flush()
