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
from cifar_core.i18n import N_, _

CLASS_BUDGET_SECONDS = 240  # under 5 minutes with the start of a worker and the test evaluation

# The defaults are the settings that learn: a class version takes them, not the notebook's.
_LEARNS = {name: TRAINING[name].default for name in ("learning_rate", "lr_schedule", "batch_size")}

# A preset's words, by name: (short title, title, description), each a function of a translation: `_` for
# the reader's language (`preset_title`, …), `_english` for the English that its "title" and "description" hold.
_TEXTS = {}


def _english(message):
    """No translation: the words of a preset's "title" and "description"."""
    return message


def _preset(name, texts, dataset, arch, hparams, training, notebook=None, version="class", budget_seconds=None):
    _TEXTS[name] = texts
    _short, title, description = texts
    return {"title": title(_english), "description": description(_english), "notebook": notebook,
            "version": version, "budget_seconds": budget_seconds, "dataset": dataset, "arch": arch,
            "hparams": hparams or {}, "training": training}


def _notebook(name, network, title, arch, dataset, full, class_epochs, hparams=None):
    """A notebook's full preset and its class version. `network` is the start of `title`, before " — "."""
    learns = {"learning_rate": f"{_LEARNS['learning_rate']:g}", "schedule": _LEARNS["lr_schedule"].replace("_", "-"),
              "batch_size": _LEARNS["batch_size"]}

    def short(t):
        return t(network)

    def class_title(t):
        return t(N_("{network} — class version (under 5 min)")).format(network=t(network))

    def class_description(t):
        return t(N_("The notebook's network, optimizer and augmentation at learning rate {learning_rate} "
                    "({schedule}), batch {batch_size}, fitted to {minutes} minutes of training here.")).format(
            **learns, minutes=CLASS_BUDGET_SECONDS // 60)

    def full_title(t):
        return t(N_("{title} — the notebook's full run")).format(title=t(title))

    def full_description(t):
        if full["patience"]:
            message = N_("The notebook's own settings: up to {epochs} epochs on every training image at a "
                         "constant learning rate.")
        else:
            message = N_("The notebook's own settings: {epochs} epochs on every training image at a constant "
                         "learning rate.")
        return t(message).format(epochs=full["epochs"])

    return {
        name: _preset(name, (short, class_title, class_description),
                      dataset, arch, hparams, {**full, **_LEARNS, "epochs": class_epochs, "patience": 0},
                      notebook=name, version="class", budget_seconds=CLASS_BUDGET_SECONDS),
        f"{name}_full": _preset(f"{name}_full", (short, full_title, full_description),
                                dataset, arch, hparams, {**full, "lr_schedule": "constant"},
                                notebook=name, version="full"),
    }


PRESETS = {
    "fast": _preset("fast", (lambda t: t(N_("Fast CNN")),
                             lambda t: t(N_("Fast CNN — the speed records' recipe, about a minute")),
                             lambda t: t(N_("The compact batch-norm network at half width with a whitening "
                                            "first layer, SGD with Nesterov momentum at a learning rate of 0.2 (one-cycle), flips, 2-pixel crops, label "
                                            "smoothing, test-time flips and nine in ten images to learn from: the "
                                            "most accuracy for a minute."))),
                    "cifar10", "fast_cnn", {"width": 0.5, "stem": "whiten"},
                    {"optimizer": "sgd", "learning_rate": 0.2, "lr_schedule": "one_cycle", "batch_size": 128,
                     "epochs": 16, "augment": ["flip", "crop"], "label_smoothing": 0.1, "weight_decay": 0.0,
                     "val_split": 0.1, "tta": True, "patience": 0}),
    **_notebook("plain_cnn", N_("Plain CNN"), N_("Plain CNN — Adam 1e-4, batch 32"), "seed_cnn", "cifar10",
                {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 32, "epochs": 20, "augment": [],
                 "patience": 0}, class_epochs=10),
    **_notebook("bn_cnn", N_("With batch normalisation"), N_("With batch normalisation — Adam 1e-4, batch 32"),
                "bn_cnn", "cifar10",
                {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 32, "epochs": 20, "augment": [],
                 "patience": 0}, class_epochs=10),
    **_notebook("dropout_cnn", N_("With dropout"), N_("With dropout — RMSprop 1e-4, batch 32"), "dropout_cnn",
                "cifar10",
                {"optimizer": "rmsprop", "learning_rate": 1e-4, "batch_size": 32, "epochs": 30, "augment": [],
                 "patience": 0}, class_epochs=10),
    **_notebook("vgg16", N_("VGG16 transfer with augmentation"),
                N_("VGG16 transfer with augmentation — Adam 1e-4, batch 32"), "vgg16_transfer", "cifar10",
                {"optimizer": "adam", "learning_rate": 1e-4, "batch_size": 32, "epochs": 10,
                 "augment": ["flip", "shift", "rotation", "zoom"], "patience": 3}, class_epochs=4),
    **_notebook("fashion", N_("Small CNN on Fashion-MNIST"), N_("Small CNN on Fashion-MNIST — Adam 1e-3, batch 64"),
                "small_cnn", "fashion_mnist",
                {"optimizer": "adam", "learning_rate": 1e-3, "batch_size": 64, "epochs": 10, "augment": [],
                 "patience": 0}, class_epochs=10),
}


def preset_title(name):
    """A preset's title in the reader's language (its "title" holds the English)."""
    return _TEXTS[name][1](_)


def preset_description(name):
    """A preset's description in the reader's language (its "description" holds the English)."""
    return _TEXTS[name][2](_)


def preset_short_title(name):
    """The start of a preset's title, before " — ", in the reader's language: its network ("Plain CNN")."""
    return _TEXTS[name][0](_)


def get_preset(name):
    try:
        return PRESETS[name]
    except KeyError:
        raise ParamError(_("Unknown preset '{name}'. Choose one of: {names} (python -m cifar_core presets lists "
                           "them).").format(name=name, names=", ".join(PRESETS))) from None
