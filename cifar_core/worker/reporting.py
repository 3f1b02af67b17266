"""How a training reports to the server mid-run: small messages through the run's Dask queue.

The queue carries the start (with this worker's address), per-batch points, and after every epoch
the record, the history and a note of the model files and time-lapse snapshots that changed (name,
size, modification time), never their bytes: the scheduler relays every queued item, and a VGG16
epoch writes about 60 MB of checkpoints. The server pulls the noted files from this worker with
`tasks.pull_files_task`, pinned to it.
"""

import logging
import threading
import time
from queue import SimpleQueue

from cifar_core.runs.timelapse import FOLDER as TIMELAPSE
from cifar_core.worker.training import TrainingListener

BATCH_SEND_SECONDS = 0.25  # per-batch points go out at most this often
DRAIN_SECONDS = 60  # at the run's end, how long its last messages may take to reach the scheduler
log = logging.getLogger(__name__)


def changed_files(folder, seen):
    """{relative name: [size, mtime_ns]} of the model files and snapshots of `folder` that are new
    or rewritten since `seen` (updated in place); files being written (`.part`) are left for later."""
    changed = {}
    for path in [*folder.glob("*.keras"), *folder.glob(f"{TIMELAPSE}/*")]:
        if ".part" in path.name:
            continue
        stat = path.stat()
        name = str(path.relative_to(folder))
        if seen.get(name) != stat.st_mtime_ns:
            changed[name] = [stat.st_size, stat.st_mtime_ns]
            seen[name] = stat.st_mtime_ns
    return changed


class Sender(TrainingListener):
    """Sends a run's progress and a note of its changed files to the server's queue. The training
    thread only hands each message to a thread of its own, which puts it on the Dask queue: a put
    waits for the scheduler, and a scheduler slowed by a busy dashboard must not slow the training."""

    def __init__(self, queue, store, run_id, worker, address):
        self.queue, self.store, self.run_id = queue, store, run_id
        self.worker, self.address = worker, address
        self.points, self.last_sent, self.seen = [], 0.0, {}
        self._outbox = SimpleQueue()  # messages waiting for the courier, in order
        self._courier = threading.Thread(target=self._deliver, name=f"send-{run_id}", daemon=True)
        self._courier.start()

    def send(self, message):
        self._outbox.put(message)

    def _deliver(self):
        while (message := self._outbox.get()) is not None:
            try:
                self.queue.put(message)
            except Exception as exc:  # the scheduler went away: the server reads the run as interrupted
                log.warning("A message of run %s did not reach the scheduler (%s).", self.run_id, exc)

    def close(self):
        """Deliver what is waiting, then end the courier (at the run's end, before its result). Closing
        twice is harmless."""
        self._outbox.put(None)
        self._courier.join(timeout=DRAIN_SECONDS)

    def on_start(self, info):
        self.send({"kind": "start", "worker": self.worker, "address": self.address, "info": info})

    def on_batch(self, epoch, batch, logs):
        self.points.append([epoch, batch, logs["loss"], logs["accuracy"]])
        if time.monotonic() - self.last_sent >= BATCH_SEND_SECONDS:
            self.flush()

    def flush(self):
        if self.points:
            self.send({"kind": "batches", "points": self.points})
            self.points = []
        self.last_sent = time.monotonic()

    def on_epoch(self, record):
        self.flush()
        self.send({"kind": "epoch", "record": record, "history": self.store.history(self.run_id),
                   "files": changed_files(self.store.path(self.run_id), self.seen)})

    def on_end(self, status, reason):
        self.flush()
        self.close()
