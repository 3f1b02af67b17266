"""The architecture registry: names, descriptions and hyperparameters, without Keras.

The web server draws its widgets and checks configs from here; `architectures` builds the models
(in the workers).
"""

from dataclasses import dataclass

from cifar_core.config.hparams import TRAINING_HPARAMS, HParam, check_all
from cifar_core.errors import ParamError
from cifar_core.i18n import N_, _

WIDTH = HParam("width", "float", 1.0, N_("Multiplies the number of filters of every convolution."), 0.25, 4.0,
               label=N_("Width"))


def _dense_units(default):
    return HParam("dense_units", "int", default, N_("Units of the dense layer(s) before the output."), 8, 4096,
                  label=N_("Dense units"), unit=N_("units"))


def _dropout(default):
    return HParam("dropout", "float", default, N_("Share of units dropped during training."), 0.0, 0.9,
                  label=N_("Dropout rate"))


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str  # English, marked with N_ where defined: `title_text` is the reader's language
    description: str
    hparams: tuple
    uses_dataset_stats: bool = True

    @property
    def title_text(self):
        return _(self.title)

    @property
    def description_text(self):
        return _(self.description)


ARCHITECTURES = {a.name: a for a in (
    Architecture("seed_cnn", N_("Plain CNN"), N_("Three blocks of two 3×3 convolutions (32, 64, 128 filters) "
                 "with max-pooling, a dense layer and softmax."),
                 (WIDTH, _dense_units(256), _dropout(0.0))),
    Architecture("bn_cnn", N_("CNN with batch normalisation"), N_("The plain CNN with BatchNormalization "
                 "between every convolution or dense layer and its ReLU."),
                 (WIDTH, _dense_units(256), _dropout(0.0))),
    Architecture("dropout_cnn", N_("CNN with dropout"), N_("Two blocks of two 3×3 convolutions (64, 128) "
                 "each followed by pooling and dropout, then two dense layers."),
                 (WIDTH, _dense_units(1024), _dropout(0.4))),
    Architecture("small_cnn", N_("Small CNN (Fashion-MNIST)"), N_("Conv 32, pool, conv 64, pool, a dense "
                 "layer of 100 and dropout: the Fashion-MNIST notebook's model."),
                 (WIDTH, _dense_units(100), _dropout(0.4))),
    Architecture("fast_cnn", N_("Fast CNN"), N_("A compact convolution–batch-norm network after the CIFAR-10 "
                 "speed records (airbench, ResNet-9): a stem, three blocks of two convolutions "
                 "(64, 128, 256 filters) with pooling after the first, global max-pooling and softmax."),
                 (WIDTH,
                  HParam("stem", "choice", "conv", N_("The first layer: a 3×3 convolution that learns, or "
                         "a fixed 2×2 one that whitens the image's patches (set from the training images "
                         "before training; about a quarter faster)."), choices=("conv", "whiten"),
                         label=N_("First layer")))),
    Architecture("vgg16_transfer", N_("VGG16 transfer"), N_("VGG16's convolutional base (ImageNet weights, "
                 "top layers trainable) with a new dense head."),
                 (HParam("weights", "choice", "imagenet", N_("Start from ImageNet weights (downloaded once "
                         "into the Keras cache) or from random initialisation."),
                         choices=("imagenet", "none"), label=N_("Initial weights")),
                  HParam("trainable_layers", "int", 4, N_("How many of VGG16's top layers train; the rest "
                         "stay frozen."), 0, 18, label=N_("Trainable VGG16 layers")),
                  _dense_units(256)),
                 uses_dataset_stats=False),
)}


def get_architecture(name):
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ParamError(_("Unknown architecture '{name}'. Choose one of: {names}.").format(
            name=name, names=", ".join(ARCHITECTURES))) from None


def check_hparams(arch_name, hparams):
    """Architecture hyperparameters with defaults filled in; out-of-range values are refused."""
    return check_all(get_architecture(arch_name).hparams, dict(hparams or {}), arch_name)


def sweepable(arch_name):
    """The settings a sweep can vary for this architecture: its own, then the training options."""
    return [*get_architecture(arch_name).hparams, *TRAINING_HPARAMS]


def sweep_values(spec, text):
    """Checked values of `spec` from text: '1e-4,1e-3,1e-2'; augmentation sets are separated by ';'
    with 'none' for no augmentation ('none;flip,shift')."""
    if spec.kind == "multi":
        items = [part.strip() for part in str(text).split(";")]
        values = [spec.check("" if item.lower() == "none" else item) for item in items if item]
    else:
        values = [spec.check(item.strip()) for item in str(text).split(",") if item.strip()]
    if len(set(values)) < 2:
        example = "none;flip,shift" if spec.kind == "multi" else "1e-4,1e-3,1e-2"
        raise ParamError(_("A sweep of {title} needs at least two different values, e.g. {example}.").format(
            title=spec.title, example=example))
    return values


def parse_sweep(arch_name, text):
    """'learning_rate=1e-4,1e-3,1e-2' → ('learning_rate', [0.0001, 0.001, 0.01]), every value checked."""
    name, sep, values = str(text).partition("=")
    specs = {spec.name: spec for spec in sweepable(arch_name)}
    if not sep or name.strip() not in specs:
        raise ParamError(_("--sweep takes NAME=V1,V2,..., with NAME one of: {names}; got '{text}'.").format(
            names=", ".join(specs), text=text))
    return name.strip(), sweep_values(specs[name.strip()], values)
