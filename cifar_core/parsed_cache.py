"""A parsed copy of a dataset archive as plain .npy files, opened memory-mapped.

Parsing CIFAR-10's pickles takes seconds and, held in memory, 180 MB per process. The first
parse writes uint8 .npy files beside the Keras cache; later processes map them, so opening is
instant and only the images a run touches become resident. The files are keyed by the source's
path, size and modification time, written atomically, and read with pickles disallowed.
"""

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .download import keras_cache_dir

NAMES = ("x_train", "y_train", "x_test", "y_test")


def _folder(source):
    source = Path(source).resolve()
    stat = source.stat()
    if source.is_dir():  # an extracted folder: its newest file stands for it
        stat = max((p.stat() for p in source.rglob("*") if p.is_file()), key=lambda s: s.st_mtime_ns,
                   default=stat)
    key = hashlib.sha1(f"{source}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return keras_cache_dir() / "cifar_core-parsed" / key


def load(source):
    """(x_train, y_train, x_test, y_test, class_names) memory-mapped, or None if not cached yet."""
    try:
        folder = _folder(source)
        meta = json.loads((folder / "meta.json").read_text())
        arrays = [np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in NAMES]
    except (OSError, ValueError):
        return None
    return (*arrays, meta["class_names"])


def save(source, x_train, y_train, x_test, y_test, class_names):
    """Write the parsed arrays; silently skipped where the cache is not writable."""
    try:
        folder = _folder(source)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in zip(NAMES, (x_train, y_train, x_test, y_test)):
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npy.part")
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
            os.replace(tmp, folder / f"{name}.npy")
        (folder / "meta.json").write_text(json.dumps({"source": str(source), "class_names": list(class_names)}))
    except OSError:
        pass


def load_or_parse(source, parse):
    """The cached arrays of `source`, parsing it with `parse(source)` (and caching) the first time."""
    cached = load(source)
    if cached is not None:
        return cached
    parsed = parse(source)
    save(source, *parsed)
    return load(source) or parsed
