"""One pixel limit and one list of formats for every image read: a photo on Feature maps and each
image of an imported folder."""

import io

import pytest
from PIL import Image

from cifar_core.data import image_folder, images
from cifar_core.errors import ImageError


def image_bytes(fmt, size=(12, 10)):
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 40)).save(buf, format=fmt)
    return buf.getvalue()


def test_the_folder_reader_uses_the_same_limit_and_formats():
    assert image_folder.MAX_PIXELS is images.MAX_PIXELS and image_folder.IMAGE_FORMATS is images.IMAGE_FORMATS
    # The uploader's filter: every suffix of the formats read, and nothing else.
    assert {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"} <= set(images.IMAGE_SUFFIXES)
    assert all(Image.registered_extensions()[suffix] in images.IMAGE_FORMATS for suffix in images.IMAGE_SUFFIXES)


@pytest.mark.parametrize("fmt", images.IMAGE_FORMATS)
def test_every_format_read_converts(fmt):
    assert images.to_model_image(image_bytes(fmt), (8, 8, 3)).shape == (8, 8, 3)


@pytest.mark.parametrize("fmt", ["TIFF", "EPS", "ICO"])
def test_a_format_outside_the_list_is_refused_even_when_pillow_reads_it(fmt):
    with pytest.raises(ImageError, match="not one in a format we read"):
        images.to_model_image(image_bytes(fmt), (8, 8, 3))


def test_an_image_over_the_limit_is_refused_from_its_header(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(ImageError, match="12×10 pixels, over the limit"):
        images.to_model_image(image_bytes("PNG"), (8, 8, 3))
