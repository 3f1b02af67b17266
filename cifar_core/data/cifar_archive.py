"""Reader for the official CIFAR-10 python archive, with a restricted unpickler.

The batches are pickles; a plain `pickle.load` of a crafted archive runs arbitrary
code. Only the globals that the official files use are admitted here.
"""

import codecs
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from cifar_core.errors import DataError
from cifar_core.i18n import N_, _

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
MEMBERS = ["batches.meta", *TRAIN_BATCHES, "test_batch"]
FIX = N_("Download the official cifar-10-python.tar.gz again, or point CIFAR10_PATH at a good "
         "copy (the archive or its extracted cifar-10-batches-py folder).")


def _safe_dtype(*args):
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise pickle.UnpicklingError("object arrays are not allowed")
    return dtype


def _reconstruct(*args):
    from numpy._core.multiarray import _reconstruct as reconstruct
    return reconstruct(*args)


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): codecs.encode,  # how Python 3 writes bytes in protocol-2 pickles
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed") from None


def safe_unpickle(data, source):
    """Unpickle one CIFAR batch from bytes, admitting only NumPy array reconstruction."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(_("{source} is not a genuine CIFAR-10 batch and was refused ({error}). {fix}").format(
            source=source, error=exc, fix=_(FIX))) from None
    except Exception as exc:  # any other malformed pickle
        raise DataError(_("{source} is corrupt ({error}). {fix}").format(
            source=source, error=type(exc).__name__, fix=_(FIX))) from None


def _members(path):
    """Yield (member name, bytes) for each expected batch, one at a time, from an archive or a folder.

    One batch in memory at a time keeps the parser's peak near the size of the dataset itself.
    """
    path = Path(path)
    if path.is_dir():
        folder = path / FOLDER if (path / FOLDER).is_dir() else path
        missing = [m for m in MEMBERS if not (folder / m).is_file()]
        if missing:
            raise DataError(_("{path} lacks {names}. {fix}").format(path=folder, names=", ".join(missing), fix=_(FIX)))
        for name in MEMBERS:
            yield name, (folder / name).read_bytes()
        return
    if not path.is_file():
        raise DataError(_("{path} does not exist. {fix}").format(path=path, fix=_(FIX)))
    seen = set()
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and name in MEMBERS and name not in seen:
                    seen.add(name)
                    yield name, tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(_("{path} is truncated or not a tar.gz archive ({error}). {fix}").format(
            path=path, error=exc, fix=_(FIX))) from None
    missing = [m for m in MEMBERS if m not in seen]
    if missing:
        raise DataError(_("{path} lacks {names}. {fix}").format(path=path, names=", ".join(missing), fix=_(FIX)))


def _batch(data, source):
    batch = safe_unpickle(data, source)
    try:
        pixels = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
        if pixels.ndim != 2 or pixels.shape[1] != 3072 or len(labels) != len(pixels):
            raise ValueError
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise DataError(_("{source} does not hold CIFAR-10 images and labels. {fix}").format(
            source=source, fix=_(FIX))) from None
    # Rows are 1024 red, 1024 green, 1024 blue values: to (N, 32, 32, 3).
    return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


def iter_cifar10(path):
    """Yield ("batches.meta", class_names) and (batch name, (images, labels)), one member at a time
    in the archive's order, so that a caller can keep as little as one batch in memory."""
    for name, data in _members(path):
        source = f"{path}:{name}"
        value = _class_names(data, source) if name == "batches.meta" else _batch(data, source)
        del data  # the member's bytes go before the caller gets the batch
        yield name, value


def _class_names(data, source):
    meta = safe_unpickle(data, source)
    try:
        return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"]]
    except (KeyError, TypeError):
        raise DataError(_("{source} has no class names. {fix}").format(source=source, fix=_(FIX))) from None


def read_cifar10(path):
    """Read CIFAR-10 from `cifar-10-python.tar.gz` or an extracted `cifar-10-batches-py/`, in memory.

    Returns `(x_train, y_train, x_test, y_test, class_names)` with uint8 images (N, 32, 32, 3).
    """
    members = dict(iter_cifar10(path))
    x_test, y_test = members["test_batch"]
    x_train = np.concatenate([members[m][0] for m in TRAIN_BATCHES])
    y_train = np.concatenate([members[m][1] for m in TRAIN_BATCHES])
    return x_train, y_train, x_test, y_test, members["batches.meta"]
