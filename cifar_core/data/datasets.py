"""Dataset registry: uint8 images (N, H, W, C), integer labels and class names.

Each dataset says whether it is available without a download, loads once per
process, and is split into train / validation / test here, never in a page.
"""

import gzip
import os
import threading
import zlib
from pathlib import Path

import numpy as np

from cifar_core.cache import BoundedCache
from cifar_core.data import download as dl
from cifar_core.data import parsed_cache
from cifar_core.data.cifar_archive import FOLDER as CIFAR_FOLDER
from cifar_core.data.cifar_archive import TRAIN_BATCHES, iter_cifar10, read_cifar10
from cifar_core.data.folder_sets import (
    folder_info,
    folder_names,
    is_folder_name,
    missing_message,
)
from cifar_core.data.splits import FOLDER_PREFIX, Dataset, DatasetInfo
from cifar_core.errors import DataError, ParamError
from cifar_core.i18n import N_, _
from cifar_core.memory import release_free_memory

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_ENV = "CIFAR10_PATH"  # a local copy: the archive or its extracted folder

FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_FILES = {  # official IDX files and their published md5 sums
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_ENV = "FASHION_MNIST_PATH"  # a folder of the four .gz files
DATA_ENV = (CIFAR10_ENV, FASHION_ENV, "KERAS_HOME")  # where a process finds its datasets
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# The class names people read, marked for the catalog: CIFAR-10's come from its archive's metadata.
KNOWN_CLASS_NAMES = (
    N_("airplane"), N_("automobile"), N_("bird"), N_("cat"), N_("deer"),
    N_("dog"), N_("frog"), N_("horse"), N_("ship"), N_("truck"),
    N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"),
    N_("Sandal"), N_("Shirt"), N_("Sneaker"), N_("Bag"), N_("Ankle boot"),
)

# The one home of the split defaults: the training options and the benchmarks import them.
MAX_CACHED_DATASETS = 3  # CIFAR-10 is memory-mapped; the others are small


def class_label(name):
    """A class name as the reader sees it: CIFAR-10's and Fashion-MNIST's in the reader's language; an
    image folder's own class names (a student's words) as they are."""
    return _(name) if name in KNOWN_CLASS_NAMES else name


# ---- CIFAR-10 ---------------------------------------------------------------------

def _cifar10_local():
    """The first local copy of CIFAR-10: CIFAR10_PATH, then the Keras cache; or None."""
    env = os.environ.get(CIFAR10_ENV)
    if env:
        return Path(env)
    cache = dl.keras_cache_dir()
    for candidate in (cache / CIFAR10_ARCHIVE, cache / CIFAR_FOLDER, cache / "cifar-10-batches-py.tar.gz"):
        if candidate.exists():
            return candidate
    return None


def _load_cifar10(progress=None):
    path = _cifar10_local()
    if path is None:
        path = download_cifar10(progress)
    elif not path.exists():
        raise DataError(_("{variable} points at {path}, which does not exist. Set it to {archive} or its extracted "
                          "{folder} folder.").format(variable=CIFAR10_ENV, path=path, archive=CIFAR10_ARCHIVE,
                                                     folder=CIFAR_FOLDER))
    x_train, y_train, x_test, y_test, names = parsed_cache.load_or_parse(
        path, iter_cifar10, TRAIN_BATCHES, ["test_batch"], read=read_cifar10)
    return Dataset("cifar10", x_train, y_train, x_test, y_test, names, source=str(path))


def download_cifar10(progress=None):
    return dl.download(CIFAR10_URL, dl.keras_cache_dir() / CIFAR10_ARCHIVE, CIFAR10_MD5, progress)


# ---- Fashion-MNIST ----------------------------------------------------------------

def _fashion_dir():
    env = os.environ.get(FASHION_ENV)
    return Path(env) if env else dl.keras_cache_dir() / "fashion-mnist"


def _read_idx(path, ndim):
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
        magic = int.from_bytes(data[:4], "big")
        if magic != 0x0800 + ndim:
            raise ValueError("bad magic number")
        dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
        offset = 4 + 4 * ndim
        return np.frombuffer(data, np.uint8, count=int(np.prod(dims)), offset=offset).reshape(dims)
    except FileNotFoundError:
        raise DataError(_("{path} is missing. Run 'python -m cifar_core download fashion_mnist' or set {variable} "
                          "to the folder of the four .gz files.").format(path=path, variable=FASHION_ENV)) from None
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise DataError(_("{path} is corrupt ({error}). Delete it and download it again.").format(
            path=path, error=exc)) from None


def _load_fashion_mnist(progress=None):
    folder = _fashion_dir()
    if not all((folder / f).exists() for f in FASHION_FILES) and FASHION_ENV not in os.environ:
        download_fashion_mnist(progress)
    x_train = _read_idx(folder / "train-images-idx3-ubyte.gz", 3)[..., None]
    y_train = _read_idx(folder / "train-labels-idx1-ubyte.gz", 1).astype(np.int64)
    x_test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 3)[..., None]
    y_test = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 1).astype(np.int64)
    return Dataset("fashion_mnist", x_train, y_train, x_test, y_test, FASHION_CLASSES,
                   source=str(folder))


def download_fashion_mnist(progress=None):
    folder = _fashion_dir()
    for name, md5 in FASHION_FILES.items():
        if not (folder / name).exists():
            dl.download(FASHION_URL + name, folder / name, md5, progress)
    return folder


# ---- digits (bundled with scikit-learn: always available) -----------------------

def _load_digits(progress=None):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    # 0–16 grey levels to 0–255 bytes, (N, 8, 8, 1).
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, bunch.target.astype(np.int64), test_size=0.2, stratify=bunch.target, random_state=0)
    return Dataset("digits", x_train, y_train, x_test, y_test, [str(d) for d in range(10)],
                   source="scikit-learn")


# ---- registry ---------------------------------------------------------------------

DATASETS = {
    "cifar10": DatasetInfo(
        "cifar10", N_("CIFAR-10"), N_("60,000 colour photos 32×32 in 10 classes (50,000 train, 10,000 test)."),
        _load_cifar10, lambda: _cifar10_local() is not None and _cifar10_local().exists(),
        image_shape=(32, 32, 3), num_classes=10, env_var=CIFAR10_ENV, fetch=download_cifar10),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", N_("Fashion-MNIST"), N_("70,000 greyscale clothing images 28×28 in 10 classes."),
        _load_fashion_mnist, lambda: all((_fashion_dir() / f).exists() for f in FASHION_FILES),
        image_shape=(28, 28, 1), num_classes=10, env_var=FASHION_ENV, fetch=download_fashion_mnist),
    "digits": DatasetInfo(
        "digits", N_("Digits (offline)"), N_("1,797 greyscale handwritten digits 8×8, bundled with "
        "scikit-learn: works with no network."), _load_digits, lambda: True,
        image_shape=(8, 8, 1), num_classes=10),
}

_datasets = BoundedCache(MAX_CACHED_DATASETS)  # loads of different keys run in parallel


def dataset_names():
    """Every dataset a page or the CLI offers: the built-in ones, then the image folders imported on
    this machine (uploads, and the server's own CIFAR_CORE_IMAGE_FOLDERS)."""
    return [*DATASETS, *folder_names()]


def dataset_info(name):
    if name in DATASETS:
        return DATASETS[name]
    if is_folder_name(name):
        return folder_info(name)
    raise ParamError(_("Unknown dataset '{name}'. Choose one of: {names}, an imported folder:ID ('python -m "
                       "cifar_core datasets' lists them), or folder:PATH.").format(
        name=name, names=", ".join(DATASETS)))


def is_available(name):
    return bool(dataset_info(name).is_local())


def check_available(name):
    """Raise DataError saying how to get the dataset if it is not on this machine; never downloads."""
    info = dataset_info(name)
    if info.is_local():
        return info
    if name.startswith(FOLDER_PREFIX):
        raise DataError(missing_message(name))
    command = f"'python -m cifar_core download {name}'"
    pointed = os.environ.get(info.env_var) if info.env_var else None
    if pointed:
        raise DataError(_("{variable} points at {path}, which does not hold {title}. Set it to a local copy, or "
                          "unset it and run {command}.").format(variable=info.env_var, path=pointed,
                                                                title=info.title_text, command=command))
    if info.env_var:
        raise DataError(_("{title} is not on this machine. Run {command} to fetch it, or set {variable} to a local "
                          "copy.").format(title=info.title_text, command=command, variable=info.env_var))
    raise DataError(_("{title} is not on this machine. Run {command} to fetch it.").format(
        title=info.title_text, command=command))


def _cache_key(name):
    # Where the files come from is part of the key: pointing a variable elsewhere reloads.
    return (name, os.environ.get(CIFAR10_ENV), os.environ.get(FASHION_ENV), os.environ.get("KERAS_HOME"))


def load_dataset(name, progress=None):
    """Load a dataset once per process (thread-safe); later calls return the same object.

    The last few datasets loaded stay cached; loading one never waits for another's download.
    """
    info = dataset_info(name)

    def load():
        dataset = info.loader(progress)
        release_free_memory()  # the parser's temporaries, as large as the dataset
        return dataset

    return _datasets.get_or_create(_cache_key(name), load)


def forget_dataset(name=None):
    """Drop cached datasets (after the files behind them changed)."""
    _datasets.forget(None if name is None else lambda key: key[0] == name)


def use_received(fields):
    """Serve a dataset the server sent to a worker without its own copy, as if loaded here. It comes
    as the `Dataset`'s fields (NumPy arrays and built-in types): a lab's scheduler holds it unimported."""
    dataset = Dataset(**fields)
    _datasets.get_or_create(_cache_key(dataset.name), lambda: dataset)


def fetch_dataset(name, progress=None):
    """Download a dataset into the Keras cache so it can be used offline later."""
    info = dataset_info(name)
    if info.fetch is None or info.is_local():
        return None
    return info.fetch(progress)


_downloads = {}  # name -> {"done", "total", "error", "finished"}: background downloads of this process
_downloads_lock = threading.Lock()


def start_download(name):
    """Fetch a dataset in a background thread (once); poll `download_state(name)` for progress."""
    info = dataset_info(name)
    with _downloads_lock:
        state = _downloads.get(name)
        if state and not state["finished"]:
            return dict(state)
        state = _downloads[name] = {"done": 0, "total": None, "error": None, "finished": False}

    def progress(done, total):
        state["done"], state["total"] = done, total

    def work():
        try:
            if info.fetch is not None and not info.is_local():
                info.fetch(progress)
        except Exception as exc:  # shown to the user as the download's error
            state["error"] = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        finally:
            state["finished"] = True

    threading.Thread(target=work, name=f"download-{name}", daemon=True).start()
    return dict(state)


def download_state(name):
    """The state of this process's download of `name`, or None if none was started."""
    with _downloads_lock:
        state = _downloads.get(name)
        return dict(state) if state else None


