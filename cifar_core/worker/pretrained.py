"""VGG16's convolutional base, with ImageNet weights from the Keras cache (downloaded once)."""

import keras

from cifar_core.data.download import VGG16_WEIGHTS_FILE, imagenet_weights_path
from cifar_core.errors import DataError
from cifar_core.i18n import _


def vgg16_base(input_tensor, weights="imagenet"):
    """VGG16 without its top, built on `input_tensor` so its layers join the caller's graph."""
    try:
        return keras.applications.VGG16(include_top=False, input_tensor=input_tensor,
                                        weights=None if weights in (None, "none") else weights)
    except Exception as exc:  # offline, a refused download, or a corrupt cached file
        if weights in (None, "none"):
            raise
        raise DataError(_(
            "The ImageNet weights of VGG16 are not on this machine and could not be downloaded ({error}). "
            "Choose weights 'none' to start from random initialisation, or copy {file} into {folder} from a "
            "machine with network.").format(error=type(exc).__name__, file=VGG16_WEIGHTS_FILE,
                                            folder=imagenet_weights_path().parent)) from None
