"""Trainings on Dask workers: a killed worker, inspection beside a training, sweeps, a localhost lab."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from support import ROOT, last_json, write_cifar

from cifar_core.cli.main import main
from cifar_core.config.architectures import parse_sweep
from cifar_core.data.datasets import load_dataset
from cifar_core.errors import ParamError, RunError
from cifar_core.runs.owners import Caller
from cifar_core.runs.store import RunStore
from cifar_core.server import cluster, inspection, jobs
from cifar_core.server.jobs import JobManager

STUDENT = Caller("Ann", "a" * 16)

DASK = Path(sys.executable).with_name("dask")


def wait_for(predicate, timeout=180, what="the condition", state=None):
    """Poll `predicate`; on timeout, fail naming `what` and, if given, `state()` (what was seen)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (f"; saw {state()}" if state else "")
        time.sleep(0.1)


def epochs_of(store, run_id):
    return len(store.history(run_id)["epochs"])


@pytest.mark.slow
def test_a_killed_worker_interrupts_its_run_the_command_line_exits_1_and_the_next_run_trains(tmp_path, capsys):
    """SIGKILL to the worker of a command-line `train` after two epochs: the run is interrupted with
    history and checkpoint, never restarted from scratch (Dask retries a task whose worker died),
    `train` says so and exits 1 (a script must not go on as if it had finished), and the run queued
    behind it trains on a live worker."""
    manager, seen = JobManager(tmp_path), {}

    def kill_after_two_epochs():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = manager.store.list()
            if runs and epochs_of(manager.store, runs[0]["run_id"]) >= 2:
                seen["queued"] = manager.submit("digits", "small_cnn", epochs=1, batch_size=32, train_size=300)
                [pid] = cluster.training_client().run(os.getpid).values()
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_after_two_epochs, daemon=True)
    killer.start()
    code = main(["train", "--dataset", "digits", "--arch", "dropout_cnn", "--epochs", "60", "--batch-size", "8",
                 "--lr", "1e-3", "--runs-dir", str(tmp_path), "--json"])
    killer.join()
    captured = capsys.readouterr()
    result = last_json(captured.out)
    doomed = result["run_id"]
    assert code == 1 and result["status"] == "interrupted" and result["epochs_completed"] >= 2
    assert f"error: run {doomed} interrupted: " in captured.err and "Traceback" not in captured.err
    assert "worker training it stopped" in manager.store.status(doomed)["reason"]
    kept = epochs_of(manager.store, doomed)
    assert kept >= 2 and manager.store.model_path(doomed, "last") is not None
    assert manager.wait(seen["queued"], timeout=180)["status"] == "completed"
    assert epochs_of(manager.store, doomed) == kept  # not trained again elsewhere
    assert 0 <= inspection.evaluate(manager.store, doomed)["accuracy"] <= 1  # its checkpoint is usable


@pytest.mark.slow
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


@pytest.mark.slow
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
# Started the way the README's "A lab" says: the venv's `dask` executable, each process in a folder of
# its own and no PYTHONPATH, so they import the product only as `pip install -r requirements.txt`
# installed it.

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, cwd, env):
    cwd.mkdir(parents=True, exist_ok=True)
    log = open(cwd / "process.log", "w")
    return subprocess.Popen([str(DASK), *args], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own process group: nanny and worker die together


def _lab_env():
    """This environment without the variables that would find the product or the data for a lab process."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CIFAR10_PATH", "KERAS_HOME", "CIFAR_CORE_RUNS")}
    return dict(env, TF_CPP_MIN_LOG_LEVEL="2", MALLOC_ARENA_MAX="2")


def _worker_args(address, name, *extra):
    return ["worker", address, "--name", name, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", *extra]


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
    base = _lab_env()
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
        workers[name] = _start(_worker_args(f"tcp://127.0.0.1:{port}", name, "--resources", "train=1",
                                            "--local-directory", str(home / "scratch")), home, env)
    monkeypatch.setenv("CIFAR_CORE_SCHEDULER", f"tcp://127.0.0.1:{port}")
    monkeypatch.setenv("CIFAR10_PATH", str(archive))
    try:
        with _lab_connection():
            yield f"tcp://127.0.0.1:{port}", workers, archive, scheduler
    finally:
        for proc in [*workers.values(), scheduler]:
            _kill(proc)


@pytest.mark.slow
def test_a_localhost_lab(lab, tmp_path, monkeypatch):
    address, workers, archive, scheduler = lab
    runs = tmp_path / "server-runs"
    manager = JobManager(runs)
    store = manager.store
    cluster.training_client().wait_for_workers(2, timeout=120)
    assert cluster.training_capacity(cluster.training_client()) == 2
    # Runs that last until the test ends them (500 epochs: the most allowed), so that no step below
    # depends on how fast this machine trains.
    first = manager.submit("cifar10", "seed_cnn", epochs=500, batch_size=16, seed=1)
    second = manager.submit("cifar10", "seed_cnn", epochs=500, batch_size=16, seed=2, caller=STUDENT)
    # Both train at once, on different workers; the server's folder gets the history every epoch.
    wait_for(lambda: all(store.status(r)["status"] == "running" and epochs_of(store, r) >= 1
                         for r in (first, second)), what="both runs to report an epoch",
             state=lambda: [store.status(r) for r in (first, second)])
    worker_of = {r: store.status(r)["worker"].split()[0] for r in (first, second)}
    assert set(worker_of.values()) == {"lab-a", "lab-b"}  # lab-b trains on the copy the server sent
    assert store.model_path(first, "last") is not None  # the checkpoint travels every epoch too
    third = manager.submit("cifar10", "seed_cnn", epochs=1, batch_size=16)
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

    # Stopped from the second dashboard: refused to another student there (the same name), then
    # done by the teacher there; the run's complete folder reaches the first, though no worker shares its disk.
    wait_for(lambda: epochs_of(store, first) >= 2, what="two epochs of the long run")
    code = ("import json\nfrom cifar_core.errors import RunError\nfrom cifar_core.runs.owners import Caller\n"
            f"from cifar_core.server.jobs import JobManager\nm = JobManager({str(runs)!r})\n"
            f"try:\n    m.stop({second!r}, caller=Caller('Ann', 'b' * 16))\n    refused = None\n"
            "except RunError as exc:\n    refused = str(exc)\n"
            f"print(json.dumps({{'refused': refused, 'stopped': m.stop({second!r}, caller=Caller('Ms Lee', 'c' * 16, True))}}))\n")
    other = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ))
    assert other.returncode == 0, other.stderr[-2000:]
    answer = json.loads(other.stdout.strip().splitlines()[-1])
    assert answer == {"refused": f"Run {second} is Ann's run: only its owner or the teacher can stop it.", "stopped": True}
    status = manager.wait(second, timeout=300)
    assert status["status"] == "stopped", status
    folder = store.path(second)
    for name in ("config.json", "status.json", "history.json", "best.keras", "last.keras"):
        assert (folder / name).is_file(), name
    assert any((folder / "logs").rglob("events.out.tfevents.*"))
    assert epochs_of(store, second) == status["epochs_completed"] >= 1

    # The worker training `first` disconnects (killed with its nanny): interrupted, history kept.
    victim = worker_of[first]
    _kill(workers[victim])
    status = manager.wait(first, timeout=300)
    assert status["status"] == "interrupted" and "worker training it stopped" in status["reason"]
    kept = epochs_of(store, first)
    assert kept >= 2 and store.model_path(first, "last") is not None
    # The queue does not hang: the waiting run trains to the end on the live worker (Dask may have put
    # it behind `first` on the worker that died).
    assert manager.wait(third, timeout=300)["status"] == "completed", store.status(third)
    assert store.status(third)["worker"].split()[0] == worker_of[second] and epochs_of(store, third) == 1
    assert not (tmp_path / "lab-a" / "runs").exists() and not (tmp_path / "lab-b" / "runs").exists()

    # The next run trains on the live worker; then the scheduler goes away during it: the run ends as
    # interrupted, naming the variable.
    monkeypatch.setattr(jobs, "LOST_SCHEDULER_SECONDS", 3)
    last = manager.submit("cifar10", "seed_cnn", epochs=500, batch_size=16)
    wait_for(lambda: epochs_of(store, last) >= 1, what="an epoch of the last run", state=lambda: store.status(last))
    assert store.status(last)["worker"].split()[0] != victim
    assert epochs_of(store, first) == kept  # never trained again elsewhere
    _kill(scheduler)
    status = manager.wait(last, timeout=180)
    assert status["status"] == "interrupted" and "CIFAR_CORE_SCHEDULER" in status["reason"]


@pytest.fixture
def started(tmp_path):
    """Starts lab processes (`dask ARGS…`, each in a folder of its own); at the end, leaves the lab the
    test connected to and kills them all."""
    processes = []

    def start(folder, *args, env=None):
        processes.append(_start(list(args), tmp_path / folder, env or _lab_env()))

    try:
        with _lab_connection():
            yield start
    finally:
        for proc in processes:
            _kill(proc)


@contextlib.contextmanager
def _lab_connection():
    """This process's training connection set aside while a test trains on a lab, then restored."""
    saved = cluster._clients.pop("train", None)
    try:
        yield
    finally:
        lab_client = cluster._clients.pop("train", None)
        if lab_client is not None:
            lab_client.close()
        if saved is not None:
            cluster._clients["train"] = saved


def _refusal(tmp_path, monkeypatch, address):
    """What submitting to the lab at `address` says, from a new connection; no run may be created."""
    monkeypatch.setenv("CIFAR_CORE_SCHEDULER", address)
    lab_client = cluster._clients.pop("train", None)
    if lab_client is not None:
        lab_client.close()
    runs = tmp_path / "runs"
    with pytest.raises(RunError) as refused:
        JobManager(runs).submit("digits", "seed_cnn", epochs=1, train_size=100)
    assert RunStore(runs).list() == []
    return str(refused.value)


@pytest.mark.slow
def test_a_lab_that_cannot_train_is_refused_in_one_line(tmp_path, monkeypatch, started):
    """No worker with a 'train' resource, a worker or a scheduler that cannot import the product: each
    is named at submit, with its fix, in one line; no run is created and none waits forever."""
    unimportable = tmp_path / "unimportable"  # on PYTHONPATH it comes before the installed product
    (unimportable / "cifar_core").mkdir(parents=True)
    (unimportable / "cifar_core" / "__init__.py").write_text(
        'raise ImportError("cifar_core is not installed here (a test stand-in)")\n')
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    started("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0")
    started("idle", *_worker_args(address, "idle"))  # no --resources: takes no training
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 60)
    monkeypatch.setenv("CIFAR_CORE_SCHEDULER", address)
    cluster.training_client().wait_for_workers(1, timeout=120)
    message = _refusal(tmp_path, monkeypatch, address)
    assert "(1 connected, none with a 'train' resource)" in message and "--resources train=1" in message, message

    started("broken", *_worker_args(address, "broken", "--resources", "train=1"),
            env=dict(_lab_env(), PYTHONPATH=str(unimportable)))
    cluster.training_client().wait_for_workers(2, timeout=120)
    message = _refusal(tmp_path, monkeypatch, address)
    assert message.startswith("Worker broken (tcp://127.0.0.1:") and "cannot import cifar_core" in message
    assert "pip install -r requirements.txt" in message and "\n" not in message, message

    # The command line: exit code 1, the same line on stderr, no traceback.
    cli = subprocess.run([sys.executable, "-m", "cifar_core", "train", "--dataset", "digits", "--arch", "seed_cnn",
                          "--epochs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, CIFAR_CORE_SCHEDULER=address, CIFAR_CORE_RUNS=str(tmp_path / "cli")))
    errors = [line for line in cli.stderr.splitlines() if line.startswith("error:")]
    assert cli.returncode == 1 and "Traceback" not in cli.stderr, cli.stderr[-2000:]
    assert errors == [f"error: {message}"], cli.stderr[-2000:]

    other = _free_port()
    started("broken-scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(other), "--dashboard-address",
            ":0", env=dict(_lab_env(), PYTHONPATH=str(unimportable)))
    message = _refusal(tmp_path, monkeypatch, f"tcp://127.0.0.1:{other}")
    assert message.startswith(f"The Dask scheduler at tcp://127.0.0.1:{other} cannot import cifar_core"), message
    assert "'dask scheduler'" in message and "\n" not in message, message
