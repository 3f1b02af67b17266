"""Presets: named recipes. The fast recipe, and each source notebook in two versions.

A preset has a recipe's shape (dataset, arch, hparams, training: `recipes.recipe_settings` reads
both, and fills in the defaults of what a preset does not name) plus a title, a description, the
notebook it comes from, its version and its time budget.

The full version replays the notebook's own settings. The class version keeps its network,
optimizer and augmentation, trains with the product's defaults that learn (the training defaults'
learning rate, schedule and batch size), and is fitted to CLASS_BUDGET_SECONDS on this machine
when it starts (`estimate.recipe_run` fits a recipe that has a budget).
"""

from cifar_core.config.hparams import TRAINING
from cifar_core.errors import ParamError

CLASS_BUDGET_SECONDS = 240  # under 5 minutes with the start of a worker and the test evaluation

# The defaults are the settings that learn: a class version takes them, not the notebook's.
_LEARNS = {name: TRAINING[name].default for name in ("learning_rate", "lr_schedule", "batch_size")}


def _preset(title, description, dataset, arch, hparams, training, notebook=None, version="class",
            budget_seconds=None):
    return {"title": title, "description": description, "notebook": notebook, "version": version,
            "budget_seconds": budget_seconds, "dataset": dataset, "arch": arch, "hparams": hparams or {},
            "training": training}


def _notebook(name, title, arch, dataset, full, class_epochs, hparams=None):
    """A notebook's full preset and its class version."""
    network = title.split(" — ")[0]
    learns = (f"learning rate {_LEARNS['learning_rate']:g} ({_LEARNS['lr_schedule'].replace('_', '-')}), "
              f"batch {_LEARNS['batch_size']}")
    return {
        name: _preset(f"{network} — class version (under 5 min)",
                      f"The notebook's network, optimizer and augmentation at {learns}, fitted to "
                      f"{CLASS_BUDGET_SECONDS // 60} minutes of training here.",
                      dataset, arch, hparams, {**full, **_LEARNS, "epochs": class_epochs, "patience": 0},
                      notebook=name, version="class", budget_seconds=CLASS_BUDGET_SECONDS),
        f"{name}_full": _preset(f"{title} — the notebook's full run",
                                f"The notebook's own settings: {'up to ' if full['patience'] else ''}"
                                f"{full['epochs']} epochs on every training image at a constant learning rate.",
                                dataset, arch, hparams, {**full, "lr_schedule": "constant"},
                                notebook=name, version="full"),
    }


PRESETS = {
    "fast": _preset("Fast CNN — the speed records' recipe, about a minute",
                    "The compact batch-norm network at half width, Adam at 4e-3 (one-cycle), flips, shifts, "
                    "label smoothing and test-time flips: the most accuracy for a minute.",
                    "cifar10", "fast_cnn", {"width": 0.5},
                    {"optimizer": "adam", "learning_rate": 4e-3, "lr_schedule": "one_cycle", "batch_size": 128,
                     "epochs": 10, "augment": ["flip", "shift"], "label_smoothing": 0.1, "weight_decay": 0.0,
                     "tta": True, "patience": 0}),
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
