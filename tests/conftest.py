"""Shared fixtures: the real sample, an offline Keras cache, a small CIFAR archive, a trained run."""

import os
import tempfile

import pytest
from support import SAMPLE, train_in_process, write_cifar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The tests read English words unless they ask for Korean (`?lang=ko`), whatever the machine's LANG.
os.environ["CIFAR_CORE_LANG"] = "en"
# The tests' own Keras cache: parsed copies of their small archives never land in the user's home.
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="cifar-core-tests-keras-")


def pytest_collection_modifyitems(items):
    """The browser tests first, then the slow tests, the quick ones last: the longest job starts at
    once in one process (the browser tests stay together), while the other takes the slow tests one
    by one, and the quick ones fill whatever gap is left at the end. --no-loadscope-reorder keeps it."""
    def phase(item):
        if "e2e" in item.path.parts:
            return 0
        return 1 if item.get_closest_marker("slow") else 2
    items.sort(key=phase)  # stable: each phase keeps the files' order


@pytest.fixture
def cifar_sample():
    if not SAMPLE.is_file():
        pytest.skip(f"the real CIFAR-10 sample is absent ({SAMPLE})")
    return SAMPLE


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Keras cache and no CIFAR10_PATH: nothing is available locally."""
    from cifar_core.data import datasets
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.delenv("FASHION_MNIST_PATH", raising=False)
    # A closed port on this machine: a real connection that is refused, never a download.
    monkeypatch.setattr(datasets, "CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    monkeypatch.setattr(datasets, "FASHION_URL", "http://127.0.0.1:9/")
    return tmp_path / "keras" / "datasets"


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    """CIFAR10_PATH pointing at a small archive in the official format (20 images a batch)."""
    path = write_cifar(tmp_path / "cifar-10-python.tar.gz", n=40)
    monkeypatch.setenv("CIFAR10_PATH", str(path))
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished seed_cnn run on the offline digits set: (store, run_id)."""
    from cifar_core.server.jobs import JobManager
    manager = JobManager(tmp_path_factory.mktemp("runs"))
    run_id = manager.submit("digits", "seed_cnn", epochs=2, batch_size=32, learning_rate=2e-3, seed=1)
    status = manager.wait(run_id, timeout=300)
    assert status["status"] == "completed", status
    return manager.store, run_id


@pytest.fixture(scope="session")
def cifar_run(tmp_path_factory):
    """seed_cnn trained for one epoch on 400 images of the real CIFAR-10 sample, in float32, in this
    process, and evaluated: (store, run_id). Tests that use it set CIFAR10_PATH themselves."""
    from cifar_core.config.run_config import make_config
    from cifar_core.runs.store import RunStore
    if not SAMPLE.is_file():
        pytest.skip(f"the real CIFAR-10 sample is absent ({SAMPLE})")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CIFAR10_PATH", str(SAMPLE))
        store = RunStore(tmp_path_factory.mktemp("cifar-runs"))
        config = make_config("cifar10", "seed_cnn", epochs=1, batch_size=64, train_size=400, seed=1,
                             precision="float32")
        return store, train_in_process(store, config)
