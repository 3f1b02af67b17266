"""One-click setups: the fast recipe, and each source notebook in two versions.

The full version replays the notebook's own settings. The class version keeps its network,
optimizer and augmentation, trains with the product's defaults that learn (learning rate 1e-3 on
a one-cycle schedule, batch 64), and is fitted to CLASS_BUDGET_SECONDS on this machine when it
starts (`estimate.fit_to_budget` picks the number of training images and of epochs).
"""

from cifar_core.errors import ParamError

CLASS_BUDGET_SECONDS = 240  # under 5 minutes with the start of a worker and the test evaluation

_LEARNS = {"learning_rate": 1e-3, "lr_schedule": "one_cycle", "batch_size": 64}


def _notebook(name, title, arch, dataset, full, class_epochs, hparams=None):
    """A notebook's full preset and its class version."""
    hparams = hparams or {}
    base = {"arch": arch, "dataset": dataset, "hparams": hparams}
    return {
        name: {"title": f"{title.split(' — ')[0]} — class version (under 5 min)", "notebook": name, "version": "class",
               "budget_seconds": CLASS_BUDGET_SECONDS,
               "values": {**base, **full, **_LEARNS, "epochs": class_epochs, "patience": 0}},
        f"{name}_full": {"title": f"{title} — the notebook's full run", "notebook": name, "version": "full",
                         "budget_seconds": None, "values": {**base, **full, "lr_schedule": "constant"}},
    }


PRESETS = {
    "fast": {"title": "Fast CNN — the speed records' recipe, about a minute", "notebook": None,
             "version": "class", "budget_seconds": None,
             "values": {"arch": "fast_cnn", "dataset": "cifar10", "hparams": {"width": 0.5},
                        "optimizer": "adam", "learning_rate": 4e-3, "lr_schedule": "one_cycle",
                        "batch_size": 128, "epochs": 10, "augment": ["flip", "shift"],
                        "label_smoothing": 0.1, "weight_decay": 0.0, "tta": True, "patience": 0}},
    **_notebook("plain_cnn", "Plain CNN — Adam 1e-4, batch 32", "seed_cnn", "cifar10",
                {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 32, "epochs": 20, "augment": [],
                 "patience": 0}, class_epochs=10),
    **_notebook("bn_cnn", "With batch normalisation — Adam 1e-4, batch 32", "bn_cnn", "cifar10",
                {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 32, "epochs": 20, "augment": [],
                 "patience": 0}, class_epochs=10),
    **_notebook("dropout_cnn", "With dropout — RMSprop 1e-4, batch 32", "dropout_cnn", "cifar10",
                {"optimizer": "rmsprop", "learning_rate": 1e-4, "batch_size": 32, "epochs": 30, "augment": [],
                 "patience": 0}, class_epochs=10),
    **_notebook("vgg16", "VGG16 transfer with augmentation — Adam 1e-4, batch 32", "vgg16_transfer", "cifar10",
                {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 32, "epochs": 10,
                 "augment": ["flip", "shift", "rotation", "zoom"], "patience": 3}, class_epochs=4),
    **_notebook("fashion", "Small CNN on Fashion-MNIST — Adam 1e-3, batch 64", "small_cnn", "fashion_mnist",
                {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 64, "epochs": 10, "augment": [],
                 "patience": 0}, class_epochs=10),
}


def get_preset(name):
    try:
        return PRESETS[name]
    except KeyError:
        raise ParamError(f"Unknown preset '{name}'. Choose one of: {', '.join(PRESETS)} "
                         "(python -m cifar_core presets lists them).") from None


def preset_settings(name, **overrides):
    """(dataset, arch, hparams, training) of a preset, with `overrides` (training options or the
    keys dataset, arch and hparams) replacing its values: the command line's flags win."""
    values = dict(get_preset(name)["values"])
    own = values.pop("hparams")
    if overrides.get("arch") not in (None, values["arch"]):
        own = {}  # another architecture: the preset's architecture settings do not apply
    hparams = {**own, **(overrides.pop("hparams", None) or {})}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return values.pop("dataset"), values.pop("arch"), hparams, values
