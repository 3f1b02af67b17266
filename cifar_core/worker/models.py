"""The notebooks' CNNs as Keras functional models with readable layer names.

Every model takes raw 0–255 pixels of the dataset's own shape. The input stage
inside the model standardises them with the training split's per-channel mean and
variance (or VGG16's own `preprocess_input`), and adapts size and channels where an
architecture needs it, so a saved `.keras` file predicts from raw images by itself.
"""

import keras
import numpy as np
from keras import layers

from cifar_core.config.architectures import check_hparams, get_architecture
from cifar_core.data.parsed_cache import take_rows
from cifar_core.worker.pretrained import vgg16_base


@keras.saving.register_keras_serializable(package="cifar_core")
class VGGPreprocess(layers.Layer):
    """VGG16's own `preprocess_input` (RGB 0–255 to BGR minus the ImageNet means)."""

    def call(self, inputs):
        return keras.applications.vgg16.preprocess_input(inputs)


def input_stage(input_shape, mean=None, variance=None, min_size=0, rgb=False, vgg=False):
    """`keras.Input` for raw pixels, then standardisation and size/channel adaptation."""
    inputs = keras.Input(shape=input_shape, name="image")  # (H, W, C), values 0–255
    x = inputs
    if vgg:
        if input_shape[-1] == 1 and rgb:
            x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
        x = VGGPreprocess(name="vgg_preprocess")(x)
    else:
        channels = input_shape[-1]
        x = layers.Normalization(mean=[0.0] * channels if mean is None else list(mean),
                                 variance=[255.0 ** 2] * channels if variance is None else list(variance),
                                 name="standardize")(x)
    if min(input_shape[:2]) < min_size:
        x = layers.Resizing(min_size, min_size, name="upsize")(x)
    return inputs, x


def _output(x, num_classes):
    # float32 softmax keeps probabilities exact under a mixed-precision policy.
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


def make_seed_cnn(input_shape, num_classes, width=1.0, dense_units=256, dropout=0.0,
                  batch_norm=False, mean=None, variance=None):
    """Three blocks of two 3×3 convolutions (32, 64, 128 filters) and a 2×2 max-pool; Dense; softmax."""
    inputs, x = input_stage(input_shape, mean, variance)
    use_bias = not batch_norm  # a BatchNormalization right after makes the bias redundant
    for block, filters in enumerate((32, 64, 128), start=1):
        for conv in (1, 2):
            name = f"block{block}_conv{conv}"
            x = layers.Conv2D(max(1, round(filters * width)), 3, padding="same", use_bias=use_bias,
                              activation=None if batch_norm else "relu", name=name)(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
                x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)  # halves H and W
    x = layers.Flatten(name="flatten")(x)
    if batch_norm:
        x = layers.Dense(dense_units, use_bias=False, name="dense1")(x)
        x = layers.BatchNormalization(name="dense1_bn")(x)
        x = layers.Activation("relu", name="dense1_relu")(x)
    else:
        x = layers.Dense(dense_units, activation="relu", name="dense1")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _output(x, num_classes), name="seed_cnn" if not batch_norm else "bn_cnn")


def make_bn_cnn(input_shape, num_classes, **hparams):
    """`seed_cnn` with BatchNormalization between each convolution or dense layer and its ReLU."""
    return make_seed_cnn(input_shape, num_classes, batch_norm=True, **hparams)


def make_dropout_cnn(input_shape, num_classes, width=1.0, dense_units=1024, dropout=0.4,
                     mean=None, variance=None):
    """Two 3×3 conv 64, pool, dropout; two 3×3 conv 128, pool, dropout; two Dense; softmax."""
    inputs, x = input_stage(input_shape, mean, variance)
    for block, filters in enumerate((64, 128), start=1):
        for conv in (1, 2):
            x = layers.Conv2D(max(1, round(filters * width)), 3, padding="same", activation="relu",
                              name=f"block{block}_conv{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        x = layers.Dropout(dropout, name=f"block{block}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense1")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense2")(x)
    return keras.Model(inputs, _output(x, num_classes), name="dropout_cnn")


def make_small_cnn(input_shape, num_classes, width=1.0, dense_units=100, dropout=0.4,
                   mean=None, variance=None):
    """The Fashion-MNIST notebook's model: conv 32, pool, conv 64, pool, Dense, dropout."""
    # Two unpadded 3×3 convolutions and two pools need at least 16×16: smaller inputs are upsized.
    inputs, x = input_stage(input_shape, mean, variance, min_size=16)
    x = layers.Conv2D(max(1, round(32 * width)), 3, activation="relu", name="block1_conv1")(x)
    x = layers.MaxPooling2D(2, name="block1_pool")(x)
    x = layers.Conv2D(max(1, round(64 * width)), 3, activation="relu", name="block2_conv1")(x)
    x = layers.MaxPooling2D(2, name="block2_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, _output(x, num_classes), name="small_cnn")


def make_fast_cnn(input_shape, num_classes, width=1.0, stem="conv", mean=None, variance=None):
    """After the CIFAR-10 speed records (airbench, ResNet-9), sized for a CPU.

    Stem: a 3×3 conv 32, BN, ReLU (32×32); or ("whiten") a frozen 2×2 convolution that whitens the
    image's patches (24 filters, 31×31, set by `fit_whitening` from the training images), ReLU.
    Three blocks: 3×3 conv, 2×2 max-pool, BN, ReLU, 3×3 conv, BN, ReLU, with 64, 128 and 256
    filters (16×16, 8×8, 4×4; 15×15, 7×7, 3×3 after the whitening stem). Global max-pool, softmax.
    Pooling right after each block's first convolution keeps most of the work at low resolution.
    """
    inputs, x = input_stage(input_shape, mean, variance, min_size=16)

    def conv_bn_relu(x, filters, name, pool=False):
        x = layers.Conv2D(max(1, round(filters * width)), 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        if pool:
            x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
        x = layers.BatchNormalization(momentum=0.8, name=f"{name}_bn")(x)  # few steps: track fast
        return layers.Activation("relu", name=f"{name}_relu")(x)

    if stem == "whiten":
        # Each 2×2 patch's 4·C values projected on the eigenvectors of the patches' covariance, with
        # both signs: the network starts from decorrelated inputs and spends no steps learning them.
        patch_values = 4 * input_shape[-1]
        x = layers.Conv2D(2 * patch_values, 2, use_bias=False, trainable=False, name=WHITENING_LAYER)(x)
        x = layers.Activation("relu", name="stem_relu")(x)
    else:
        x = conv_bn_relu(x, 32, "stem")
    for block, filters in enumerate((64, 128, 256), start=1):
        x = conv_bn_relu(x, filters, f"block{block}_1", pool=True)  # halves H and W
        x = conv_bn_relu(x, filters, f"block{block}_2")
    x = layers.GlobalMaxPooling2D(name="global_pool")(x)  # (filters,)
    return keras.Model(inputs, _output(x, num_classes), name="fast_cnn")


WHITENING_LAYER = "stem_whiten"
WHITENING_IMAGES = 5000  # the speed records' sample for the patches' statistics


def fit_whitening(model, images, rows, epsilon=5e-4):
    """Set `model`'s frozen whitening stem, if it has one, from the training images `images[rows]`
    (uint8, N × H × W × C): its filters are the eigenvectors of the covariance of the standardised
    images' 2×2 patches, each divided by the square root of its eigenvalue (+ `epsilon`), and their
    negatives. Uses WHITENING_IMAGES rows spread evenly over `rows` (an image folder is stored class
    by class), 256 at a time."""
    if WHITENING_LAYER not in [layer.name for layer in model.layers]:
        return
    stem = model.get_layer(WHITENING_LAYER)
    standardised = keras.Model(model.inputs, stem.input)  # (N, H, W, C), as the stem sees them
    height, width, channels, filters = stem.kernel.shape
    second_moment, count = np.zeros((filters // 2, filters // 2)), 0
    rows = np.asarray(rows)
    rows = rows[np.linspace(0, len(rows) - 1, min(len(rows), WHITENING_IMAGES)).astype(int)]
    for start in range(0, len(rows), 256):
        x = np.asarray(standardised(take_rows(images, rows[start:start + 256]).astype(np.float32)), np.float64)
        patches = np.lib.stride_tricks.sliding_window_view(x, (height, width), axis=(1, 2))  # (N, H', W', C, h, w)
        flat = patches.transpose(0, 1, 2, 4, 5, 3).reshape(-1, filters // 2)  # the kernel's (h, w, C) order
        second_moment += flat.T @ flat
        count += len(flat)
    values, vectors = np.linalg.eigh(second_moment / max(count, 1))  # ascending eigenvalues
    scaled = vectors[:, ::-1] / np.sqrt(values[::-1] + epsilon)  # (4·C, 4·C), one filter a column
    kernel = np.concatenate([scaled, -scaled], axis=1).reshape(height, width, channels, filters)
    stem.set_weights([kernel.astype(np.float32)])


def make_vgg16_transfer(input_shape, num_classes, weights="imagenet", trainable_layers=4,
                        dense_units=256, mean=None, variance=None):
    """VGG16 without its top (its last `trainable_layers` layers train), Dense, BN, ReLU, softmax."""
    # VGG16 needs 3 channels and at least 32×32; its inputs go through its own preprocess_input.
    inputs, x = input_stage(input_shape, min_size=32, rgb=True, vgg=True)
    base = vgg16_base(x, weights)  # its layers join this graph, so feature maps reach them
    vgg_layers = [layer for layer in base.layers if layer.name.startswith("block")]
    for i, layer in enumerate(vgg_layers):
        layer.trainable = i >= len(vgg_layers) - trainable_layers
    x = layers.Flatten(name="flatten")(base.output)
    x = layers.Dense(dense_units, use_bias=False, name="dense1")(x)
    x = layers.BatchNormalization(name="dense1_bn")(x)
    x = layers.Activation("relu", name="dense1_relu")(x)
    return keras.Model(inputs, _output(x, num_classes), name="vgg16_transfer")


BUILDERS = {"seed_cnn": make_seed_cnn, "bn_cnn": make_bn_cnn, "dropout_cnn": make_dropout_cnn,
            "small_cnn": make_small_cnn, "fast_cnn": make_fast_cnn, "vgg16_transfer": make_vgg16_transfer}


@keras.saving.register_keras_serializable(package="cifar_core")
class SparseCrossentropy(keras.losses.Loss):
    """Cross-entropy from integer labels with label smoothing (Keras' sparse loss has none)."""

    def __init__(self, num_classes, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.label_smoothing = num_classes, label_smoothing

    def call(self, y_true, y_pred):
        labels = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), self.num_classes)
        return keras.losses.categorical_crossentropy(labels, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "label_smoothing": self.label_smoothing}


def build_model(arch_name, input_shape, num_classes, hparams=None, mean=None, variance=None):
    """Build an architecture for `input_shape` (H, W, C) after checking its hyperparameters."""
    values = check_hparams(arch_name, hparams)
    builder = BUILDERS[get_architecture(arch_name).name]
    return builder(tuple(input_shape), num_classes, mean=mean, variance=variance, **values)


def layer_table(model):
    """(name, type, output shape, parameters) for every layer: the Train page's summary."""
    rows = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = tuple(shape.shape) if shape is not None and hasattr(shape, "shape") else ()
        rows.append({"name": layer.name, "type": type(layer).__name__,
                     "output_shape": str(tuple(d for d in shape[1:])), "params": layer.count_params(),
                     "trainable": bool(layer.trainable and layer.trainable_weights)})
    return rows
