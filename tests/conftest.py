"""Shared fixtures: small archives in the official CIFAR-10 format, the real sample, a trained run."""

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_batch(n, seed):
    """One batch dict as the official files hold it: bytes keys, uint8 (n, 3072) rows."""
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"test batch", b"labels": [int(i % 10) for i in range(n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def write_cifar(path, n=20, folder=False, skip=(), replace=None):
    """Write a CIFAR-10 archive (or extracted folder) in the official layout; return its path."""
    members = {"batches.meta": {b"label_names": [c.encode() for c in CLASS_NAMES],
                                b"num_cases_per_batch": n, b"num_vis": 3072}}
    for i in range(1, 6):
        members[f"data_batch_{i}"] = cifar_batch(n, i)
    members["test_batch"] = cifar_batch(n, 99)
    raw = {name: pickle.dumps(value, protocol=2) for name, value in members.items() if name not in skip}
    raw.update(replace or {})
    path = Path(path)
    if folder:
        target = path / "cifar-10-batches-py"
        target.mkdir(parents=True)
        for name, data in raw.items():
            (target / name).write_bytes(data)
        return path
    with tarfile.open(path, "w:gz") as tar:
        for name, data in raw.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def cifar_sample():
    if not SAMPLE.is_file():
        pytest.skip(f"the real CIFAR-10 sample is absent ({SAMPLE})")
    return SAMPLE


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty Keras cache and no CIFAR10_PATH: nothing is available locally."""
    from cifar_core import datasets
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
    from cifar_core.jobs import JobManager
    manager = JobManager(tmp_path_factory.mktemp("runs"), max_jobs=1)
    run_id = manager.submit("digits", "seed_cnn", epochs=2, batch_size=32, learning_rate=2e-3, seed=1)
    status = manager.wait(run_id, timeout=300)
    assert status["status"] == "completed", status
    return manager.store, run_id
