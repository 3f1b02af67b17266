"""A run's config, checked on the caller's side before anything is queued (no TensorFlow here)."""

import platform
from importlib import metadata

from cifar_core.config.architectures import check_hparams, get_architecture
from cifar_core.config.hparams import TRAINING_HPARAMS, check_all
from cifar_core.data.datasets import check_available, load_dataset
from cifar_core.data.splits import check_split
from cifar_core.errors import ParamError
from cifar_core.i18n import _


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
    n_val, n_train = check_split(len(ds.y_train), ds.num_classes, train_values["val_split"],
                                 train_values["train_size"], dataset)
    if train_values["batch_size"] > n_train:
        raise ParamError(_("Batch size must be between 1 and {high} (the training images of this run), got {value}.")
                         .format(high=n_train, value=train_values["batch_size"]))
    return {
        "dataset": dataset, "arch": arch, "hparams": arch_values,
        "training": {**train_values, "augment": list(train_values["augment"])},
        "image_shape": list(ds.image_shape), "num_classes": ds.num_classes,
        "class_names": list(ds.class_names), "n_train": n_train, "n_val": n_val,
        "n_test": len(ds.y_test), "versions": library_versions(),
        **({"preset": preset} if preset else {}),
    }
