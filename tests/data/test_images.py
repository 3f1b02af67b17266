"""One pixel limit and one list of formats for every image read: a photo on Feature maps and each
image of an imported folder."""

import io

import numpy as np
import pytest
from PIL import Image
from support import image_bytes

from cifar_core.data import image_folder, images
from cifar_core.data.images import normalize_channel, tile_channels, to_model_image
from cifar_core.errors import ImageError


def test_the_folder_reader_uses_the_same_limit_and_formats():
    assert image_folder.MAX_PIXELS is images.MAX_PIXELS and image_folder.IMAGE_FORMATS is images.IMAGE_FORMATS
    # The uploader's filter: every suffix of the formats read, and nothing else.
    assert {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"} <= set(images.IMAGE_SUFFIXES)
    assert all(Image.registered_extensions()[suffix] in images.IMAGE_FORMATS for suffix in images.IMAGE_SUFFIXES)


@pytest.mark.parametrize("fmt", images.IMAGE_FORMATS)
def test_every_format_read_converts(fmt):
    assert images.to_model_image(image_bytes("RGB", fmt=fmt), (8, 8, 3)).shape == (8, 8, 3)


@pytest.mark.parametrize("fmt", ["TIFF", "EPS", "ICO"])
def test_a_format_outside_the_list_is_refused_even_when_pillow_reads_it(fmt):
    with pytest.raises(ImageError, match="not one in a format we read"):
        images.to_model_image(image_bytes("RGB", fmt=fmt), (8, 8, 3))


def test_an_image_over_the_limit_is_refused_from_its_header(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(ImageError, match="40×30 pixels, over the limit"):
        images.to_model_image(image_bytes("RGB"), (8, 8, 3))


def test_constant_channel_does_not_divide_by_zero():
    values = np.zeros((4, 4, 3), np.float32)
    values[..., 1] = np.arange(16).reshape(4, 4)
    grid = tile_channels(values, columns=3)
    assert grid.shape == (4, 14) and (grid[:, :4] == 128).all()
    assert normalize_channel(np.full((2, 2), 7.0)).tolist() == [[128, 128], [128, 128]]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"])
@pytest.mark.parametrize("shape", [(32, 32, 3), (8, 8, 1)])
def test_every_mode_converts(mode, shape):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    array = to_model_image(image_bytes(mode, fmt=fmt), shape)
    assert array.shape == shape and array.dtype == np.uint8


def test_transparency_goes_on_white_and_arrays_work():
    clear = to_model_image(image_bytes("RGBA", size=(10, 10)), (4, 4, 3))
    assert clear.min() > 100
    assert to_model_image(np.zeros((50, 60, 3), np.uint8), (32, 32, 3)).shape == (32, 32, 3)
    assert to_model_image(np.zeros((50, 60), np.float64), (8, 8, 1)).shape == (8, 8, 1)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("P", (16, 16), i) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert to_model_image(buf.getvalue(), (32, 32, 3)).shape == (32, 32, 3)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"just some text, not an image", "not an image"),
])
def test_bad_files_are_refused(data, message):
    with pytest.raises(ImageError, match=message):
        to_model_image(data, (32, 32, 3))


def test_truncated_jpeg_is_refused():
    data = image_bytes("RGB", size=(200, 200), fmt="JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        to_model_image(data[: len(data) // 2], (32, 32, 3))


def test_decompression_bomb_is_refused():
    # A 20000×20000 PNG: tiny on disk, 1.2 GB decoded. Refused from its header alone.
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 2_000_000
    with pytest.raises(ImageError, match="too large"):
        to_model_image(buf.getvalue(), (32, 32, 3))
