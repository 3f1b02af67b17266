"""VGG16's convolutional base, with ImageNet weights from the Keras cache (downloaded once)."""

import keras

from .errors import DataError

WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def vgg16_base(input_tensor, weights="imagenet"):
    """VGG16 without its top, built on `input_tensor` so its layers join the caller's graph."""
    try:
        return keras.applications.VGG16(include_top=False, input_tensor=input_tensor,
                                        weights=None if weights in (None, "none") else weights)
    except Exception as exc:  # offline, a refused download, or a corrupt cached file
        if weights in (None, "none"):
            raise
        raise DataError(
            f"The ImageNet weights of VGG16 could not be loaded ({type(exc).__name__}: "
            f"{str(exc)[:120]}). Choose weights 'none' to start from random initialisation, or put "
            f"{WEIGHTS_FILE} into ~/.keras/models on a machine with network first.") from None
