import numpy as np

from cifar_core.worker.pipeline import CROP_PIXELS, make_augmenter


def test_crop_moves_each_image_by_whole_pixels_with_mirrored_edges():
    image = np.arange(32 * 32 * 3, dtype=np.float32).reshape(32, 32, 3)  # every pixel value distinct
    batch = np.repeat(image[None], 32, axis=0)
    moved = np.asarray(make_augmenter(("crop",), seed=0)(batch, training=True))
    p = CROP_PIXELS
    # Keras' "reflect" repeats the edge pixel (d c b a | a b c d), which NumPy calls "symmetric".
    padded = np.pad(image, ((p, p), (p, p), (0, 0)), mode="symmetric")
    shifts = [[(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
               if np.array_equal(out, padded[dy:dy + 32, dx:dx + 32])] for out in moved]
    assert all(len(found) == 1 for found in shifts), "each image is one crop of the padded image"
    assert len({found[0] for found in shifts}) >= 8  # each image draws its own move
