"""Trainings on Dask workers: a killed worker, inspection beside a training, sweeps, a localhost lab."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support import ROOT, write_cifar

from cifar_core.config.architectures import parse_sweep
from cifar_core.data.datasets import load_dataset
from cifar_core.errors import ParamError, RunError
from cifar_core.runs.store import RunStore
from cifar_core.server import cluster, inspection, jobs
from cifar_core.server.jobs import JobManager

DASK = Path(sys.executable).with_name("dask")


def wait_for(predicate, timeout=180, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def epochs_of(store, run_id):
    return len(store.history(run_id)["epochs"])


def test_a_killed_worker_interrupts_its_run_and_the_next_one_trains(tmp_path):
    """SIGKILL to the worker mid-run: interrupted with history and checkpoint, never restarted from
    scratch (Dask retries a task whose worker died), and the queued run trains on a live worker."""
    manager = JobManager(tmp_path)
    doomed = manager.submit("digits", "dropout_cnn", epochs=60, batch_size=8, learning_rate=1e-3)
    queued = manager.submit("digits", "small_cnn", epochs=1, batch_size=32, train_size=300)
    wait_for(lambda: epochs_of(manager.store, doomed) >= 2, what="two epochs")
    [pid] = cluster.training_client().run(os.getpid).values()
    os.kill(pid, signal.SIGKILL)
    status = manager.wait(doomed, timeout=120)
    assert status["status"] == "interrupted" and "worker training it stopped" in status["reason"]
    kept = epochs_of(manager.store, doomed)
    assert kept >= 2 and manager.store.model_path(doomed, "last") is not None
    assert manager.wait(queued, timeout=180)["status"] == "completed"
    assert epochs_of(manager.store, doomed) == kept  # not trained again elsewhere
    assert 0 <= inspection.evaluate(manager.store, doomed)["accuracy"] <= 1  # its checkpoint is usable


def test_feature_maps_answer_while_a_run_trains(trained_run, tmp_path):
    """Inspection has its own worker process: it never waits behind a training."""
    store, run_id = trained_run
    image = load_dataset("digits").x_test[0]
    layers = inspection.model_info(store, run_id)["feature_layers"]
    inspection.feature_maps(store, run_id, image, layers)  # the model is loaded and kept
    manager = JobManager(tmp_path)
    busy = manager.submit("digits", "dropout_cnn", epochs=30, batch_size=8)
    wait_for(lambda: manager.progress(busy)["batch"] >= 5, what="the run to train")
    seconds = []
    for _ in range(5):
        started = time.perf_counter()
        maps = inspection.feature_maps(store, run_id, image, layers)
        seconds.append(time.perf_counter() - started)
    assert manager.progress(busy)["status"] == "running"
    manager.stop(busy)
    assert [m["name"] for m in maps] == layers and maps[0]["values"].dtype == np.float32
    # Far below one epoch of the run beside it (a few seconds); bench/ measures the real figure.
    assert np.median(seconds) < 2.0, seconds
    manager.wait(busy, timeout=120)


def test_a_sweep_queues_one_run_per_value(tmp_path):
    manager = JobManager(tmp_path)
    name, values = parse_sweep("seed_cnn", "learning_rate=1e-3,3e-3")
    run_ids = manager.sweep("digits", "seed_cnn", name, values, epochs=1, batch_size=32, train_size=200)
    for run_id in run_ids:
        assert manager.wait(run_id, timeout=180)["status"] == "completed"
    configs = [manager.store.config(r) for r in run_ids]
    assert [c["training"]["learning_rate"] for c in configs] == [1e-3, 3e-3]
    assert {c["training"]["train_size"] for c in configs} == {200}
    assert parse_sweep("seed_cnn", "augment=none;flip,shift")[1] == [(), ("flip", "shift")]
    assert parse_sweep("seed_cnn", "dropout=0,0.3")[1] == [0.0, 0.3]
    with pytest.raises(ParamError, match="at least two different values"):
        parse_sweep("seed_cnn", "learning_rate=1e-3")
    with pytest.raises(ParamError, match="Learning rate must be between"):
        parse_sweep("seed_cnn", "learning_rate=1e-3,99")
    with pytest.raises(ParamError, match="NAME one of"):
        parse_sweep("seed_cnn", "momentum=0.1,0.9")
    before = len(manager.store.list())
    with pytest.raises(ParamError, match="Batch size must be between"):  # checked before any run queues
        manager.sweep("digits", "seed_cnn", "batch_size", [32, 5000], epochs=1, train_size=200)
    assert len(manager.store.list()) == before


def test_an_unreachable_scheduler_is_named(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("CIFAR_CORE_SCHEDULER", f"tcp://127.0.0.1:{port}")
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)
    saved = cluster._clients.pop("train", None)
    try:
        with pytest.raises(RunError, match="CIFAR_CORE_SCHEDULER"):
            JobManager(tmp_path).submit("digits", "seed_cnn", epochs=1)
        assert RunStore(tmp_path).list() == []  # no run was created, none left "queued"
    finally:
        if saved is not None:
            cluster._clients["train"] = saved


# ---- a lab on localhost: a scheduler and two workers, each in its own folder --------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, cwd, env):
    cwd.mkdir(parents=True, exist_ok=True)
    log = open(cwd / "process.log", "w")
    return subprocess.Popen([str(DASK), *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: nanny and worker die together


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """tcp://127.0.0.1:PORT with workers lab-a (its own CIFAR-10 copy) and lab-b (none: it receives
    the server's). Yields (address, {name: process}, archive)."""
    (tmp_path / "server").mkdir()
    archive = write_cifar(tmp_path / "server" / "cifar-10-python.tar.gz", n=40)
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if k not in ("CIFAR10_PATH", "KERAS_HOME", "CIFAR_CORE_RUNS")}
    base.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", MALLOC_ARENA_MAX="2")
    scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                       tmp_path / "scheduler", base)
    workers = {}
    for name in ("lab-a", "lab-b"):
        home = tmp_path / name
        env = dict(base, KERAS_HOME=str(home / "keras"), CIFAR_CORE_RUNS=str(home / "runs"))
        home.mkdir()
        if name == "lab-a":
            own = write_cifar(home / "cifar-10-python.tar.gz", n=40)
            env["CIFAR10_PATH"] = str(own)
        workers[name] = _start(["worker", f"tcp://127.0.0.1:{port}", "--name", name, "--nworkers", "1",
                                "--nthreads", "1", "--resources", "train=1", "--no-dashboard",
                                "--local-directory", str(home / "scratch")], home, env)
    monkeypatch.setenv("CIFAR_CORE_SCHEDULER", f"tcp://127.0.0.1:{port}")
    monkeypatch.setenv("CIFAR10_PATH", str(archive))
    saved = cluster._clients.pop("train", None)
    try:
        yield f"tcp://127.0.0.1:{port}", workers, archive, scheduler
    finally:
        lab_client = cluster._clients.pop("train", None)
        if lab_client is not None:
            lab_client.close()
        if saved is not None:
            cluster._clients["train"] = saved
        for proc in [*workers.values(), scheduler]:
            _kill(proc)


def test_a_localhost_lab(lab, tmp_path, monkeypatch):
    address, workers, archive, scheduler = lab
    runs = tmp_path / "server-runs"
    manager = JobManager(runs)
    store = manager.store
    wait_for(lambda: cluster.training_capacity(cluster.training_client()) == 2, timeout=120, what="two workers")
    first = manager.submit("cifar10", "seed_cnn", epochs=40, batch_size=16, seed=1)
    second = manager.submit("cifar10", "seed_cnn", epochs=6, batch_size=16, seed=2)
    # Both train at once, on different workers; the server's folder gets the history every epoch.
    wait_for(lambda: all(store.status(r)["status"] == "running" and epochs_of(store, r) >= 1
                         for r in (first, second)), what="both runs to report an epoch")
    assert {store.status(first)["worker"].split()[0], store.status(second)["worker"].split()[0]} == {"lab-a", "lab-b"}
    assert store.model_path(first, "last") is not None  # the checkpoint travels every epoch too
    third = manager.submit("cifar10", "seed_cnn", epochs=2, batch_size=16)
    assert manager.progress(third)["queue_position"] == 1

    # A second dashboard (its own process) on the same folder and scheduler sees the same queue.
    code = ("import json\nfrom cifar_core.server.jobs import JobManager\n"
            f"m = JobManager({str(runs)!r})\n"
            "print(json.dumps({'queued': m.queued(), 'active': sorted(m.active())}))\n")
    seen = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert seen.returncode == 0, seen.stderr[-2000:]
    view = json.loads(seen.stdout.strip().splitlines()[-1])
    assert view["queued"] == [third] and sorted([first, second, third]) == view["active"]

    # The complete folder reaches the server, although no worker shares its disk.
    assert manager.wait(second, timeout=300)["status"] == "completed"
    folder = store.path(second)
    for name in ("config.json", "status.json", "history.json", "best.keras", "last.keras"):
        assert (folder / name).is_file(), name
    assert any((folder / "logs").rglob("events.out.tfevents.*")) and epochs_of(store, second) == 6
    assert not (tmp_path / "lab-a" / "runs").exists() and not (tmp_path / "lab-b" / "runs").exists()

    # The worker training `first` disconnects (killed with its nanny): interrupted, history kept.
    wait_for(lambda: epochs_of(store, first) >= 2, what="two epochs of the long run")
    victim = store.status(first)["worker"].split()[0]
    _kill(workers[victim])
    status = manager.wait(first, timeout=120)
    assert status["status"] == "interrupted" and "worker training it stopped" in status["reason"]
    kept = epochs_of(store, first)
    assert kept >= 2 and store.model_path(first, "last") is not None
    # The queue does not hang: the waiting run trains on the live worker.
    assert manager.wait(third, timeout=300)["status"] == "completed"
    assert store.status(third)["worker"].split()[0] != victim
    assert epochs_of(store, first) == kept

    # The scheduler goes away during a run: the run ends as interrupted, naming the variable.
    monkeypatch.setattr(jobs, "LOST_SCHEDULER_SECONDS", 3)
    last = manager.submit("cifar10", "seed_cnn", epochs=40, batch_size=16)
    wait_for(lambda: epochs_of(store, last) >= 1, what="an epoch of the last run")
    _kill(scheduler)
    status = manager.wait(last, timeout=180)
    assert status["status"] == "interrupted" and "CIFAR_CORE_SCHEDULER" in status["reason"]
