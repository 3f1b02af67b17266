"""The architecture registry: names, descriptions and hyperparameters, without Keras.

The web server draws its widgets and checks configs from here; `architectures` builds the models
(in the workers).
"""

from dataclasses import dataclass

from cifar_core.config.hparams import TRAINING_HPARAMS, HParam, check_all
from cifar_core.errors import ParamError

WIDTH = HParam("width", "float", 1.0, "Multiplies the number of filters of every convolution.", 0.25, 4.0,
               label="Width")


def _dense_units(default):
    return HParam("dense_units", "int", default, "Units of the dense layer(s) before the output.", 8, 4096,
                  label="Dense units", unit="units")


def _dropout(default):
    return HParam("dropout", "float", default, "Share of units dropped during training.", 0.0, 0.9,
                  label="Dropout rate")


@dataclass(frozen=True)
class Architecture:
    name: str
    title: str
    description: str
    hparams: tuple
    uses_dataset_stats: bool = True


ARCHITECTURES = {a.name: a for a in (
    Architecture("seed_cnn", "Plain CNN", "Three blocks of two 3×3 convolutions (32, 64, 128 filters) "
                 "with max-pooling, a dense layer and softmax.",
                 (WIDTH, _dense_units(256), _dropout(0.0))),
    Architecture("bn_cnn", "CNN with batch normalisation", "The plain CNN with BatchNormalization "
                 "between every convolution or dense layer and its ReLU.",
                 (WIDTH, _dense_units(256), _dropout(0.0))),
    Architecture("dropout_cnn", "CNN with dropout", "Two blocks of two 3×3 convolutions (64, 128) "
                 "each followed by pooling and dropout, then two dense layers.",
                 (WIDTH, _dense_units(1024), _dropout(0.4))),
    Architecture("small_cnn", "Small CNN (Fashion-MNIST)", "Conv 32, pool, conv 64, pool, a dense "
                 "layer of 100 and dropout: the Fashion-MNIST notebook's model.",
                 (WIDTH, _dense_units(100), _dropout(0.4))),
    Architecture("fast_cnn", "Fast CNN", "A compact convolution–batch-norm network after the CIFAR-10 "
                 "speed records (airbench, ResNet-9): a 3×3 stem, three blocks of two convolutions "
                 "(64, 128, 256 filters) with pooling after the first, global max-pooling and softmax.",
                 (WIDTH,)),
    Architecture("vgg16_transfer", "VGG16 transfer", "VGG16's convolutional base (ImageNet weights, "
                 "top layers trainable) with a new dense head.",
                 (HParam("weights", "choice", "imagenet", "Start from ImageNet weights (downloaded once "
                         "into the Keras cache) or from random initialisation.",
                         choices=("imagenet", "none"), label="Initial weights"),
                  HParam("trainable_layers", "int", 4, "How many of VGG16's top layers train; the rest "
                         "stay frozen.", 0, 18, label="Trainable VGG16 layers"),
                  _dense_units(256)),
                 uses_dataset_stats=False),
)}


def get_architecture(name):
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ParamError(f"Unknown architecture '{name}'. Choose one of: "
                         f"{', '.join(ARCHITECTURES)}.") from None


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
        raise ParamError(f"A sweep of {spec.title} needs at least two different values, e.g. {example}.")
    return values


def parse_sweep(arch_name, text):
    """'learning_rate=1e-4,1e-3,1e-2' → ('learning_rate', [0.0001, 0.001, 0.01]), every value checked."""
    name, sep, values = str(text).partition("=")
    specs = {spec.name: spec for spec in sweepable(arch_name)}
    if not sep or name.strip() not in specs:
        raise ParamError(f"--sweep takes NAME=V1,V2,..., with NAME one of: {', '.join(specs)}; got '{text}'.")
    return name.strip(), sweep_values(specs[name.strip()], values)
