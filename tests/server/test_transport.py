"""Mid-run transport: only small messages go through the scheduler, checkpoints are pulled from the
worker every epoch, and no Dask queue, event or variable outlives its run or evaluation."""

import pickle
import threading
import time

import pytest

from cifar_core.runs.store import BEST_MODEL, LAST_MODEL
from cifar_core.server import cluster, inspection, jobs
from cifar_core.server.jobs import JobManager, RunLink

pytestmark = pytest.mark.slow


def held_objects(dask_scheduler):
    """What the scheduler holds for users: its queues, events and variables, by name."""
    extensions = dask_scheduler.extensions
    return {"queues": sorted(map(str, extensions["queues"].queues)),
            "events": sorted(map(str, extensions["events"]._events)),
            "variables": sorted(map(str, extensions["variables"].variables))}


def wait_until_released(clients, timeout=60):
    """The schedulers' objects once none is left (releases travel on a batched stream, a moment
    behind the call that sends them), or what is still held at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        held = {name: client.run_on_scheduler(held_objects) for name, client in clients.items()}
        if not any(v for objects in held.values() for v in objects.values()) or time.monotonic() > deadline:
            return held
        time.sleep(0.2)


def test_no_dask_object_outlives_its_run_or_evaluation(tmp_path):
    manager = JobManager(tmp_path)
    run_ids = [manager.submit("digits", arch, epochs=1, batch_size=32, train_size=120, seed=seed)
               for seed, arch in enumerate(["seed_cnn", "small_cnn"] * 2 + ["seed_cnn"], start=1)]
    for run_id in run_ids:
        assert manager.wait(run_id, timeout=300)["status"] == "completed"
        assert manager.store.model_path(run_id, "best") is not None
    reports = []
    for i in range(20):
        result = inspection.evaluate(manager.store, run_ids[i % len(run_ids)],
                                     progress=lambda done, total: reports.append((done, total)))
        assert 0 <= result["accuracy"] <= 1
    assert reports and reports[-1][0] == reports[-1][1]  # the evaluations' queues carried their progress
    clients = {"training": cluster.training_client(), "inspection": cluster.inspection_client()}
    empty = {"queues": [], "events": [], "variables": []}
    assert wait_until_released(clients) == {"training": empty, "inspection": empty}


def test_a_learning_rate_search_ends_cancelled_or_done_and_leaves_nothing(tmp_path):
    manager = JobManager(tmp_path)
    cancelled = manager.find_learning_rate("digits", "seed_cnn", batch_size=32)
    manager.cancel_learning_rate_search(cancelled)  # queued or at its first batch: it ends at once
    found = manager.find_learning_rate("digits", "seed_cnn", batch_size=32)
    deadline = time.monotonic() + 300
    while any(manager.learning_rate_search(s)["status"] == "running" for s in (cancelled, found)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert manager.learning_rate_search(cancelled)["status"] == "cancelled", manager.learning_rate_search(cancelled)
    done = manager.learning_rate_search(found)
    assert done["status"] == "done" and done["result"]["suggested_learning_rate"] is not None, done
    assert not list(tmp_path.iterdir())  # nothing saved
    client = cluster.training_client()
    assert wait_until_released({"training": client})["training"] == {"queues": [], "events": [], "variables": []}


def test_checkpoints_reach_the_server_every_epoch_without_the_queue(tmp_path):
    """An epoch listed in the server's history has its checkpoint and snapshot there, mid-run, while
    what went through the scheduler's queue stayed small."""
    client = cluster.training_client()
    scheduler = client.cluster.scheduler  # a local cluster's scheduler runs in this process
    queued_sizes = []
    put = scheduler.handlers["queue_put"]

    async def measured_put(name=None, key=None, data=None, **kwargs):
        queued_sizes.append(len(pickle.dumps(data)))
        return await put(name=name, key=key, data=data, **kwargs)

    scheduler.handlers["queue_put"] = measured_put
    manager = JobManager(tmp_path)
    try:
        run_id = manager.submit("digits", "seed_cnn", epochs=30, batch_size=16, seed=3)
        folder = manager.store.path(run_id)
        deadline = time.monotonic() + 300
        while not manager.store.history(run_id)["epochs"]:
            assert time.monotonic() < deadline, "no epoch reached the server"
            time.sleep(0.05)
        # Read at once: the files were written before the history that lists the epoch.
        present = {name: (folder / name).is_file()
                   for name in (LAST_MODEL, BEST_MODEL, "timelapse/epoch_0000.npz", "timelapse/epoch_0001.npz")}
        assert manager.progress(run_id)["status"] == "running"  # mid-run, not the final result
        manager.stop(run_id)
        assert manager.wait(run_id, timeout=120)["status"] == "stopped"
    finally:
        scheduler.handlers["queue_put"] = put
    assert present == dict.fromkeys(present, True)
    checkpoint = (folder / LAST_MODEL).stat().st_size
    assert checkpoint > 1_000_000 and queued_sizes and max(queued_sizes) < 100_000, (checkpoint, max(queued_sizes))


def test_a_pull_from_a_worker_that_has_left_ends_at_once(monkeypatch):
    """A worker killed while the server pulls its epoch's files never answers, and its training may be
    tried again elsewhere for minutes: the pull gives up once the scheduler no longer knows the worker,
    not after PULL_SECONDS (made an hour here, past the test's own time limit)."""
    monkeypatch.setattr(jobs, "PULL_SECONDS", 3600)
    client = cluster.training_client()
    gone = "tcp://127.0.0.1:9"  # no worker has it: what the scheduler sees once a worker has died
    training = client.submit(int, 1, workers=[gone], pure=False)  # never starts, so never done
    link = RunLink("20261207-000000-seed_cnn-gone", client)
    try:
        link.address, link.wanted = gone, {"last.keras": [1, 1]}
        assert link.pull(training) == {}
        assert link.wanted == {"last.keras": [1, 1]}  # still wanted: asked for again after the next epoch
    finally:
        training.cancel()
        link.close()
    assert wait_until_released({"training": client})["training"] == {"queues": [], "events": [], "variables": []}


class FinishedPull:
    """A pull whose task has finished, as the Dask client sees it: its bytes take `seconds` to arrive,
    or never come (None: its worker is gone). A read that times out is dropped and starts again from
    the beginning, as a timed-out gather does; a cancel ends any read."""

    status = "finished"

    def __init__(self, seconds, files):
        self.seconds, self.files, self.cancelled = seconds, files, threading.Event()

    def result(self, timeout=None):
        if self.seconds is None or (timeout is not None and timeout < self.seconds):
            self.cancelled.wait(timeout)
            raise TimeoutError
        if self.cancelled.wait(self.seconds):
            raise TimeoutError
        return self.files

    def cancel(self):
        self.cancelled.set()


class Training:
    """A training that has not ended."""

    def done(self):
        return False


@pytest.mark.parametrize("present", [True, False])
def test_a_finished_pulls_bytes_are_read_however_long_they_take_unless_the_worker_has_left(present, monkeypatch):
    """A checkpoint may take several seconds to arrive from a worker across a network: it is read to
    the end while the worker is there. A worker that died after its pull finished took the bytes with
    it: the read ends at its next look at the scheduler, not after PULL_SECONDS (an hour here, past
    the test's own time limit)."""
    monkeypatch.setattr(jobs, "PULL_SECONDS", 3600)
    client = cluster.training_client()
    link = RunLink("20261207-000000-seed_cnn-pulls", client)
    link.address = next(iter(client.scheduler_info(n_workers=-1)["workers"])) if present else "tcp://127.0.0.1:9"
    pull = FinishedPull(3 * jobs.WORKER_LOOK_SECONDS if present else None, {"last.keras": b"x" * 1000})
    try:
        assert link.collect(pull, Training()) == (pull.files if present else {})
    finally:
        pull.cancel()
        link.close()
