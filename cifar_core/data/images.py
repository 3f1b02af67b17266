"""Turn any image Pillow reads into the uint8 (H, W, C) array a dataset's model expects."""

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cifar_core.errors import ImageError
from cifar_core.i18n import _

# One limit for every image decoded here, a photo on Feature maps or each image of a folder: a
# 36-megapixel camera's full-size photo (7360×4912) passes, and one decoded image takes at most
# 160 MB (RGBA), under half of Pillow's own warning threshold. Larger is refused from its header.
MAX_PIXELS = 40_000_000
# Pillow's names of the formats read: no plugin that runs outside code (EPS) or is rarely a photo.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
# Their file name suffixes as Pillow registers them (.png, .jpg, .jpeg, .jfif, …): an uploader's filter.
IMAGE_SUFFIXES = tuple(sorted(suffix for suffix, name in Image.registered_extensions().items()
                              if name in IMAGE_FORMATS))


def _open(source):
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(_("The file is empty. Upload a PNG or JPEG photo."))
        source = io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise ImageError(_("{path} does not exist.").format(path=source))
        if Path(source).stat().st_size == 0:
            raise ImageError(_("{path} is empty. Use a PNG or JPEG photo.").format(path=source))
    try:
        return Image.open(source, formats=IMAGE_FORMATS)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise ImageError(_("The image is too large to decode safely. Use a photo under {megapixels} "
                               "megapixels.").format(megapixels=MAX_PIXELS // 1_000_000)) from None
        raise ImageError(_("This file is not an image (or not one in a format we read). Save it as PNG "
                           "or JPEG, or take a screenshot of it, and upload that.")) from None


def to_model_image(source, shape):
    """Convert `source` (bytes, path, file object, PIL image or array) to uint8 of `shape` (H, W, C).

    Any mode (RGB, RGBA, L, P, …) and size: transparency goes onto white, the centre is cropped
    to the target aspect ratio and resized. Animated images use their first frame.
    """
    height, width, channels = shape
    if isinstance(source, np.ndarray):
        array = source
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
            raise ImageError(_("An image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got {shape}.")
                             .format(shape=array.shape))
        if array.dtype != np.uint8:
            array = np.clip(array, 0, 255).astype(np.uint8)
        image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    else:
        image = _open(source)
    if image.width * image.height > MAX_PIXELS:
        raise ImageError(_("The image is {width}×{height} pixels, over the limit of {megapixels} megapixels. Use "
                           "a smaller photo.").format(width=image.width, height=image.height,
                                                      megapixels=MAX_PIXELS // 1_000_000))
    try:
        image.seek(0)  # first frame of an animation
        image.load()
        if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        image = image.convert("L" if channels == 1 else "RGB")
        image = ImageOps.fit(image, (width, height), Image.Resampling.BICUBIC)
    except (OSError, ValueError, Image.DecompressionBombError, EOFError) as exc:
        raise ImageError(_("The image is damaged or truncated ({error}). Upload another file.").format(
            error=exc)) from None
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if channels == 1 else array


def enlarge(array, size=None, scale=None):
    """A uint8 image array (H, W), (H, W, 1) or (H, W, 3) as a PIL image, enlarged with crisp pixels."""
    array = np.asarray(array, dtype=np.uint8)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    image = Image.fromarray(array)
    if scale:
        size = (image.width * scale, image.height * scale)
    return image.resize(size, Image.Resampling.NEAREST) if size else image


def tile_images(images, columns, pad=1, background=255):
    """Tile uint8 images (N, H, W, C) into one (rows·H, columns·W, C) array."""
    n, height, width, channels = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (height + pad) - pad, columns * (width + pad) - pad, channels), background, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (height + pad): r * (height + pad) + height, c * (width + pad): c * (width + pad) + width] = image
    return grid


def colour_map_lut(colours):
    """A 256-entry RGB lookup table interpolated through `colours` ('#rrggbb' or 'rgb(r, g, b)'
    strings, low to high), e.g. Plotly's `plotly.colors.sequential.Viridis`."""
    stops = np.array([_rgb(c) for c in colours], dtype=np.float64)
    positions = np.linspace(0, 255, len(stops))
    levels = np.arange(256)
    return np.stack([np.interp(levels, positions, stops[:, k]) for k in range(3)], axis=1).round().astype(np.uint8)


def _rgb(colour):
    colour = colour.strip()
    if colour.startswith("#"):
        return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return [int(float(v)) for v in colour[colour.index("(") + 1: colour.index(")")].split(",")[:3]]


def apply_colour_map(grey, lut):
    """uint8 grey levels (any shape) to RGB through a 256-entry lookup table: (..., 3)."""
    return lut[np.asarray(grey, dtype=np.uint8)]


def normalize_channel(channel):
    """The notebooks' display normalisation: centre on the mean, 64 grey levels per std, clip to 0–255."""
    channel = channel - channel.mean()
    std = channel.std()
    if std > 0:  # a constant channel stays mid-grey instead of dividing by zero
        channel = channel / std
    return np.clip(channel * 64 + 128, 0, 255).astype(np.uint8)


def tile_channels(values, columns=None, pad=1, max_channels=None, lut=None):
    """Tile the channels of one layer output (H, W, C) into one uint8 grid image: greyscale (H, W),
    or RGB (H, W, 3) through a colour map's lookup table `lut`, on white gaps."""
    count = min(values.shape[-1], max_channels or values.shape[-1])
    channels = np.stack([normalize_channel(values[..., c]) for c in range(count)])
    tiles = channels[..., None] if lut is None else apply_colour_map(channels, lut)
    grid = tile_images(tiles, columns or math.ceil(math.sqrt(count)), pad)
    return grid[..., 0] if lut is None else grid


def resize_heatmap(heatmap, size):
    """A float heatmap (h, w) resized smoothly (bilinear) to `size` (H, W), as Grad-CAM draws it."""
    image = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size[1], size[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def heatmap_overlay(image, heatmap, lut, alpha=0.45, size=None):
    """An RGB uint8 picture of `heatmap` (h, w, values 0–1) through a colour map, laid over the uint8
    image (H, W, C) at `alpha`, at `size` (H, W) pixels (default: the image's)."""
    size = size or image.shape[:2]
    base = np.asarray(enlarge(image, size=(size[1], size[0])).convert("RGB"), dtype=np.float32)
    heat = np.clip(resize_heatmap(heatmap, size), 0, 1)
    colours = apply_colour_map(np.round(heat * 255), lut).astype(np.float32)
    return np.round((1 - alpha) * base + alpha * colours).astype(np.uint8)
