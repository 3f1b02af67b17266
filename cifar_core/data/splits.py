"""A dataset as arrays, and how it is split: the types every dataset source builds, the seeded
stratified splits, and the statistics the Data page and the models' standardisation use. NumPy only.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from cifar_core.data.parsed_cache import take_rows
from cifar_core.errors import ParamError
from cifar_core.i18n import _

DEFAULT_VAL_SPLIT = 0.3
DEFAULT_SEED = 777
VAL_SPLIT_RANGE = (0.05, 0.9)  # share of the training set held out for validation
FOLDER_PREFIX = "folder:"  # an imported image folder: folder:<id> (see `folder_sets`)


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray  # uint8 (N, H, W, C)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    source: str = ""

    @property
    def image_shape(self):
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self):
        return len(self.class_names)


@dataclass
class Split:
    """Index arrays into `Dataset.x_train` (train, validation) and the untouched test set."""
    train: np.ndarray
    val: np.ndarray
    seed: int
    val_split: float
    train_size: int = field(default=None)


@dataclass(frozen=True)
class DatasetInfo:
    """What a page or the CLI may know of a dataset without loading it."""
    name: str
    title: str  # a built-in dataset's English, marked with N_ where defined: `title_text` is the reader's language
    description: str
    loader: object
    is_local: object  # () -> bool: available now without a download
    image_shape: tuple  # (H, W, C) of every image
    num_classes: int
    env_var: str = None  # names a local copy; None when the dataset needs no files
    fetch: object = None  # (progress) -> path, or None when nothing is downloaded

    @property
    def title_text(self):
        """The title in the reader's language (an image folder's own name stays as it is)."""
        return _(self.title) if self.title else self.title

    @property
    def description_text(self):
        return _(self.description) if self.description else self.description


def stratified_sample(labels, size, rng):
    """Indices of `size` rows drawn without replacement, each class in proportion to its share.

    Per-class quotas are rounded by largest remainder, so they add up to `size` exactly.
    (NumPy rather than scikit-learn's splitter: importing scikit-learn takes longer than the
    Data page may, and this is all the split needs.)
    """
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / len(labels)
    quota = np.floor(exact).astype(int)
    for i in np.argsort(quota - exact)[: size - quota.sum()]:
        quota[i] += 1
    picked = [rng.choice(np.flatnonzero(labels == c), q, replace=False) for c, q in zip(classes, quota)]
    return np.concatenate(picked)


def check_split(n_images, num_classes, val_split, train_size=None, name=None):
    """(validation images, training images) of a split of `n_images`, or ParamError naming the
    setting and its range: the one home of these rules, for the config check and the split itself."""
    name = _("this dataset") if name is None else name
    low, high = VAL_SPLIT_RANGE
    if not low <= val_split <= high:
        raise ParamError(_("Validation share must be between {low} and {high}, got {value}.").format(
            low=f"{low:g}", high=f"{high:g}", value=repr(val_split)))
    n_val = math.ceil(n_images * val_split)
    n_train_full = n_images - n_val
    if n_val < num_classes or n_train_full < num_classes:
        raise ParamError(_("A validation share of {value} leaves too few images for {classes} classes in {name}.")
                         .format(value=val_split, classes=num_classes, name=name))
    if train_size is not None and not 1 <= train_size <= n_train_full:
        raise ParamError(_("Training images must be between 1 and {high} for {name} with a validation share of "
                           "{share}, got {value}.").format(high=n_train_full, name=name, share=val_split,
                                                            value=train_size))
    return n_val, train_size or n_train_full


def split_dataset(dataset, val_split=DEFAULT_VAL_SPLIT, seed=DEFAULT_SEED, train_size=None):
    """Stratified, seeded validation split of the training set; optional training subset.

    Returns sorted index arrays, so images stay uint8 in the dataset and are never copied here.
    """
    labels = np.asarray(dataset.y_train)
    n_val = check_split(len(labels), dataset.num_classes, val_split, train_size, dataset.name)[0]
    rng = np.random.default_rng(seed)
    val = np.sort(stratified_sample(labels, n_val, rng))
    train = np.setdiff1d(np.arange(len(labels)), val, assume_unique=True)
    if train_size is not None:
        train = np.sort(train[stratified_sample(labels[train], train_size, rng)])
    return Split(train, val, seed, val_split, train_size)


def channel_stats(images, indices=None, chunk=256):
    """Per-channel mean and std of uint8 images (or of the rows `indices`), in chunks:
    exact integer sums, no float copy of the whole set."""
    channels = images.shape[-1]
    rows = np.arange(len(images)) if indices is None else np.asarray(indices)
    total = np.zeros(channels, dtype=np.int64)
    total_sq = np.zeros(channels, dtype=np.int64)
    for start in range(0, len(rows), chunk):
        block = take_rows(images, rows[start:start + chunk]).reshape(-1, channels).astype(np.int64)
        total += block.sum(0)
        total_sq += np.square(block).sum(0)
    count = max(len(rows) * images.shape[1] * images.shape[2], 1)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0))
    return mean, std


def sample_indices(pool, count, seed):
    """Up to `count` distinct entries of the index array `pool`, drawn with `seed`: the same seed
    shows the same images again."""
    pool = np.asarray(pool)
    if not len(pool):
        return pool[:0]
    return np.random.default_rng(int(seed)).choice(pool, min(count, len(pool)), replace=False)


def class_counts(labels, num_classes):
    return np.bincount(labels, minlength=num_classes)


def pixel_histograms(images, mean, std, bins=64, limit=2000):
    """Pixel histograms of up to `limit` images, raw (0–255) and standardised per channel."""
    sample = images[:limit].reshape(-1, images.shape[-1]).astype(np.float32)
    raw_counts, raw_edges = np.histogram(sample, bins=bins, range=(0, 255))
    standardised = (sample - mean) / np.where(std > 0, std, 1)
    std_counts, std_edges = np.histogram(standardised, bins=bins)
    return {"raw": (raw_counts, raw_edges), "standardised": (std_counts, std_edges)}
