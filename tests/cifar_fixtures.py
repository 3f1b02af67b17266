"""Helpers for tests: small archives written in the official CIFAR-10 format, and where the real sample lives."""

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_batch(n, seed):
    """One batch dict as the official files hold it: bytes keys, uint8 (n, 3072) rows."""
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"test batch", b"labels": [int(i % 10) for i in range(n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def write_cifar(path, n=20, folder=False, skip=(), replace=None, order=None):
    """Write a CIFAR-10 archive (or extracted folder) in the official layout; return its path.

    `order` lists the member names in the order the archive holds them."""
    members = {"batches.meta": {b"label_names": [c.encode() for c in CLASS_NAMES],
                                b"num_cases_per_batch": n, b"num_vis": 3072}}
    for i in range(1, 6):
        members[f"data_batch_{i}"] = cifar_batch(n, i)
    members["test_batch"] = cifar_batch(n, 99)
    raw = {name: pickle.dumps(value, protocol=2) for name, value in members.items() if name not in skip}
    raw.update(replace or {})
    if order:
        raw = {name: raw[name] for name in order}
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


