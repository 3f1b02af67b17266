"""VGG16's convolutional base, with ImageNet weights from the Keras cache (downloaded once)."""

from .download import keras_cache_dir
from .errors import DataError

WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def imagenet_weights_path():
    """Where Keras keeps VGG16's ImageNet weights: `$KERAS_HOME/models`, else `~/.keras/models`."""
    return keras_cache_dir().parent / "models" / WEIGHTS_FILE


def imagenet_weights_available():
    """True when the weights are on this machine, so a VGG16 run needs no download (no TensorFlow)."""
    return imagenet_weights_path().is_file()


def vgg16_base(input_tensor, weights="imagenet"):
    """VGG16 without its top, built on `input_tensor` so its layers join the caller's graph."""
    import keras

    try:
        return keras.applications.VGG16(include_top=False, input_tensor=input_tensor,
                                        weights=None if weights in (None, "none") else weights)
    except Exception as exc:  # offline, a refused download, or a corrupt cached file
        if weights in (None, "none"):
            raise
        raise DataError(
            f"The ImageNet weights of VGG16 are not on this machine and could not be downloaded "
            f"({type(exc).__name__}). Choose weights 'none' to start from random initialisation, "
            f"or copy {WEIGHTS_FILE} into {imagenet_weights_path().parent} from a machine with "
            f"network.") from None
