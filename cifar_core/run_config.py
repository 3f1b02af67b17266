"""A run's config, checked on the caller's side before anything is queued (no TensorFlow here)."""

import math
import platform
from importlib import metadata

from .catalog import check_hparams, get_architecture
from .datasets import check_available, load_dataset
from .errors import ParamError
from .hparams import TRAINING_HPARAMS, check_all


def library_versions():
    """Installed versions, read from the packages' metadata: nothing is imported."""
    versions = {"python": platform.python_version()}
    for name, packages in (("tensorflow", ("tensorflow", "tensorflow-cpu", "tensorflow-macos")),
                           ("keras", ("keras",)), ("numpy", ("numpy",)), ("scikit-learn", ("scikit-learn",))):
        versions[name] = next((v for v in map(_installed, packages) if v), None)
    return versions


def _installed(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def make_config(dataset, arch, hparams=None, *, preset=None, **training):
    """A checked run config. Every out-of-range value is refused with its name and range.

    Reads the dataset's local copy for its image count, and never downloads it: a dataset that is
    not on this machine is refused with DataError, saying how to get it.
    """
    get_architecture(arch)
    arch_values = check_hparams(arch, hparams)
    train_values = check_all(TRAINING_HPARAMS, training, "training")
    check_available(dataset)
    ds = load_dataset(dataset)
    n_total = len(ds.y_train)
    n_val = math.ceil(n_total * train_values["val_split"])
    n_train_full = n_total - n_val
    if n_val < ds.num_classes or n_train_full < ds.num_classes:
        raise ParamError(f"A validation share of {train_values['val_split']} leaves too few images for "
                         f"{ds.num_classes} classes in {dataset}.")
    size = train_values["train_size"]
    if size is not None and size > n_train_full:
        raise ParamError(f"Training images must be between 1 and {n_train_full} for {dataset} with a "
                         f"validation share of {train_values['val_split']}, got {size}.")
    n_train = size or n_train_full
    if train_values["batch_size"] > n_train:
        raise ParamError(f"Batch size must be between 1 and {n_train} (the training images of this "
                         f"run), got {train_values['batch_size']}.")
    return {
        "dataset": dataset, "arch": arch, "hparams": arch_values,
        "training": {**train_values, "augment": list(train_values["augment"])},
        "image_shape": list(ds.image_shape), "num_classes": ds.num_classes,
        "class_names": list(ds.class_names), "n_train": n_train, "n_val": n_val,
        "n_test": len(ds.y_test), "versions": library_versions(),
        **({"preset": preset} if preset else {}),
    }
