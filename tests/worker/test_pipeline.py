import numpy as np
import pytest

from cifar_core.worker.pipeline import CROP_PIXELS, make_augmenter


@pytest.mark.parametrize("size", [32, 8])  # CIFAR-10, and digits: the same moves in pixels
def test_crop_moves_each_image_by_whole_pixels_with_mirrored_edges(size):
    image = np.arange(size * size * 3, dtype=np.float32).reshape(size, size, 3)  # every pixel value distinct
    batch = np.repeat(image[None], 32, axis=0)
    moved = np.asarray(make_augmenter(("crop",), seed=0, image_size=(size, size))(batch, training=True))
    p = CROP_PIXELS
    # Keras' "reflect" repeats the edge pixel (d c b a | a b c d), which NumPy calls "symmetric".
    padded = np.pad(image, ((p, p), (p, p), (0, 0)), mode="symmetric")
    shifts = [[(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
               if np.array_equal(out, padded[dy:dy + size, dx:dx + size])] for out in moved]
    assert all(len(found) == 1 for found in shifts), "each image is one crop of the padded image"
    assert len({found[0] for found in shifts}) >= 8  # each image draws its own move
    assert any(abs(found[0][0] - p) == p or abs(found[0][1] - p) == p for found in shifts)  # up to CROP_PIXELS
