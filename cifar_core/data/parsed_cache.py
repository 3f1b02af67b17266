"""A parsed copy of a dataset archive as plain .npy files, opened memory-mapped.

Parsing CIFAR-10's pickles takes seconds and, held in memory, 180 MB per process. The first
parse writes uint8 .npy files beside the Keras cache, one archive member at a time (each
member's rows go to a part file, then the parts are joined in order by file copies), so the
parse itself holds one batch in memory. Later processes map the files, so opening is instant.
The files are keyed by the source's path, size and modification time, written atomically, and
read with pickles disallowed.
"""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cifar_core.data.download import keras_cache_dir

ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")  # a dataset's arrays, one .npy file each


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
        arrays = [np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAY_NAMES]
    except (OSError, ValueError):
        return None
    return (*arrays, meta["class_names"])


def _join(parts, target):
    """Write the raw row files `parts` [(path, shape, dtype)] as one .npy at `target`, by copying."""
    dtype = parts[0][2]
    shape = (sum(shape[0] for _, shape, _ in parts), *parts[0][1][1:])
    with open(target, "wb") as out:
        np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                   "fortran_order": False, "shape": shape})
        for path, _, _ in parts:
            with open(path, "rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)


def _parse_into(folder, members, train, test):
    """Write each member's images and labels to part files as it is parsed, then join them."""
    parts, class_names = {}, None
    for name, value in members:
        if not isinstance(value, tuple):
            class_names = value
            continue
        for kind, array in zip(("x", "y"), value):
            path = folder / f"{name}.{kind}.raw"
            array.tofile(path)
            parts[name, kind] = (path, array.shape, array.dtype)
        del value
    for target, kind, names in (("x_train", "x", train), ("y_train", "y", train),
                                ("x_test", "x", test), ("y_test", "y", test)):
        _join([parts[name, kind] for name in names], folder / f"{target}.npy")
    (folder / "meta.json").write_text(json.dumps({"class_names": list(class_names)}))


def load_or_parse(source, parse_members, train, test, read):
    """The cached arrays of `source`; the first time, they are parsed into the cache.

    `parse_members(source)` yields (member, (images, labels)) and one (member, class_names);
    `train` and `test` name the members of each set, in order. Where the cache can't be written,
    `read(source)` parses the whole source in memory instead.
    """
    cached = load(source)
    if cached is not None:
        return cached
    try:
        final = _folder(source)
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=final.parent, prefix=".parsing-"))
        work.chmod(0o755)  # as readable as a folder made with mkdir
    except OSError:
        return read(source)
    try:
        _parse_into(work, parse_members(source), train, test)
        for raw in work.glob("*.raw"):
            raw.unlink()
        if final.exists() and load(source) is None:
            shutil.rmtree(final, ignore_errors=True)  # an incomplete copy from an older version
        try:
            work.rename(final)  # atomic: a folder appears whole or not at all
        except OSError:
            if load(source) is None:  # not another process that got there first
                raise
    except OSError:
        return read(source)  # the cache is not writable (or the disk is full): parse in memory
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return load(source) or read(source)


def _maps_whole_file(array):
    """True for an array `load` mapped: a whole .npy file's data, read-only, C-ordered."""
    try:
        return (isinstance(array, np.memmap) and array.mode == "r" and array.flags.c_contiguous
                and array.offset + array.nbytes == os.path.getsize(array.filename))
    except (OSError, TypeError, AttributeError):
        return False


def take_rows(array, rows):
    """`array[rows]` as a new array.

    Rows of a mapped dataset are read from its file with `preadv`, because indexing the mapping
    makes the kernel map the cached pages around each row too: a random few thousand rows of
    CIFAR-10 would make most of the file resident in the process.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if (not hasattr(os, "preadv") or not _maps_whole_file(array) or rows.size == 0
            or rows.min() < 0 or rows.max() >= len(array)):
        return np.asarray(array)[rows]
    out = np.empty((len(rows), *array.shape[1:]), array.dtype)
    row_bytes = out[0].nbytes
    # Runs of consecutive rows (common in sorted validation indices) are read in one call.
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    with open(array.filename, "rb", buffering=0) as f:
        for start, end in zip(np.r_[0, breaks], np.r_[breaks, len(rows)]):
            target = memoryview(out[start:end]).cast("B")
            if os.preadv(f.fileno(), [target], array.offset + int(rows[start]) * row_bytes) != len(target):
                raise OSError(f"{array.filename} is shorter than its header says.")
    return out
