"""Your own images as a dataset: read a folder of class folders (cats/…, dogs/…), or a .zip of one,
safely into uint8 arrays. NumPy and Pillow only: the web server imports this, never TensorFlow.

Every limit is a constant below. What the listing shows is checked before any file is read (unsafe
paths, links, archives inside, zip bombs by their ratio, too many files or bytes); each file is then
read with a bounded read (never trusting a zip header's sizes), straight from the zip in memory:
nothing is extracted. `content_id` hashes the bytes (and refuses archives by their content);
`decode_all` decodes only IMAGE_FORMATS (no Pillow plugin that runs outside code, such as EPS),
refusing an image over `images.MAX_PIXELS` from its header, before it is decoded. Pillow's own guard
(Image.MAX_IMAGE_PIXELS and its DecompressionBombWarning) is process-wide state that other threads
of the server share, so the same check is made here with our own limit. Transparency goes onto
white, the centre square is cropped and resized (as photos on the Feature maps page are); images
are RGB, or one grey channel when every image is greyscale. Class names are the sorted folder names.
Where the sets are kept and how they are named: `folder_sets`.
"""

import hashlib
import io
import os
import re
import stat
import zipfile
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from cifar_core.data.images import IMAGE_FORMATS, MAX_PIXELS, to_model_image
from cifar_core.data.splits import DEFAULT_SEED, stratified_sample
from cifar_core.errors import DataError, ImageError, ParamError
from cifar_core.i18n import _, ngettext, number

DEFAULT_IMAGE_SIZE = 32
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 64
IMAGE_SIZES = (16, 24, 32, 48, 64)  # the Data page's choices
MIN_CLASSES = 2
MIN_IMAGES_PER_CLASS = 5
MAX_IMAGES = 20_000
MAX_FILES = 40_000  # every file listed, images or not
MAX_TOTAL_BYTES = 200_000_000  # all files together, unpacked
MAX_COMPRESSION_RATIO = 100  # a zip entry of over RATIO_FLOOR bytes expanding more than this is a bomb
RATIO_FLOOR = 1_000_000
TEST_SHARE = 0.2  # of each class, held out as the test set (seeded, stratified)
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".zst", ".jar")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c",
                 b"Rar!\x1a\x07", b"\x28\xb5\x2f\xfd")
FORMAT_VERSION = 1  # part of every set's id: a change to how images are read gives new sets
UNSAFE_CHARACTERS = "[]<>*`|\\"


def check_image_size(size):
    if not isinstance(size, int) or not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise ParamError(_("Image size must be between {low} and {high} pixels, got {value}.").format(
            low=MIN_IMAGE_SIZE, high=MAX_IMAGE_SIZE, value=size))
    return size


# ---- listing: what the zip or folder holds, refused before anything is read ----------------

def _check_name(source, name):
    path = PurePosixPath(name)
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in path.parts:
        raise DataError(_("{source} holds an entry with an unsafe path ({name}): a path may not start at the "
                          "root or climb out with '..'. Zip the class folders again with an ordinary zip tool.")
                        .format(source=source, name=name))
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        raise _archive_inside(source, name)


def _read_zip_entry(archive, info, limit):
    try:
        with archive.open(info) as f:
            return f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise DataError(_("{name} cannot be read from the zip ({error}). Zip the folders again.").format(
            name=info.filename, error=exc)) from None


def zip_files(archive, source):
    """[(name, listed size, read(limit))] of a zip's files; unsafe entries are refused."""
    files = []
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        _check_name(source, name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataError(_("{source} holds a symbolic link ({name}); links are refused. Put the image itself "
                              "there.").format(source=source, name=name))
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise DataError(_("{name} in {source} is password-protected. Zip the folders without a password.")
                            .format(name=name, source=source))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise DataError(_("{name} in {source} expands {ratio} times when unpacked, over the limit of {limit} "
                              "(a zip bomb). Remove it.").format(
                name=name, source=source, ratio=number(info.file_size // max(info.compress_size, 1)),
                limit=MAX_COMPRESSION_RATIO))
        files.append((name, info.file_size, partial(_read_zip_entry, archive, info)))
    return files


def _read_file(path, limit):
    with open(path, "rb") as f:
        return f.read(limit + 1)


def folder_files(root, source):
    """[(name, size, read(limit))] of a folder's files; links and special files are refused."""
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))  # never entered, never read
        for name in dirs + sorted(n for n in names if not _hidden(n)):
            path = Path(folder, name)
            relative, info = path.relative_to(root).as_posix(), path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise DataError(_("{source} holds a symbolic link ({name}); links are refused. Copy the images "
                                  "themselves into the folder.").format(source=source, name=relative))
            if name in dirs:
                continue
            if not stat.S_ISREG(info.st_mode):
                raise DataError(_("{name} in {source} is not an ordinary file. Remove it.").format(
                    name=relative, source=source))
            _check_name(source, relative)
            files.append((relative, info.st_size, partial(_read_file, path)))
            if len(files) > MAX_FILES:
                raise _too_many_files(source)
    return files


def clean_text(text, limit=40):
    """A folder or file name as shown on the pages: no control or Markdown link characters, short."""
    text = "".join("_" if ch in UNSAFE_CHARACTERS else ch for ch in text if ch.isprintable()).strip()
    return text[:limit] or "_"


def _hidden(name):
    """Files a system adds by itself (macOS's __MACOSX/ and ._ files, .DS_Store): left out silently."""
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def class_files(files, source):
    """Files sorted by (class folder, path); loose files outside a class folder apart. A single
    folder around the class folders (pets/cats/…) is looked through."""
    files = [f for f in files if not _hidden(f[0])]
    if len(files) > MAX_FILES:
        raise _too_many_files(source)
    if sum(size for _, size, _ in files) > MAX_TOTAL_BYTES:
        raise _too_large(source)
    parts = [name.split("/") for name, _, _ in files]
    while (parts and len({p[0] for p in parts}) == 1 and all(len(p) >= 2 for p in parts)
           and any(len(p) >= 3 for p in parts)):
        parts = [p[1:] for p in parts]  # pets/cats/1.png: pets/ holds the class folders (and maybe a readme)
    inside = sorted(((clean_text(p[0]), "/".join(p), read) for p, (_, _, read) in zip(parts, files) if len(p) >= 2),
                    key=lambda f: f[:2])
    if len({p[0] for p in parts if len(p) >= 2}) != len({c for c, _, _ in inside}):
        raise DataError(_("Two class folders of {source} differ only in characters a class name may not hold "
                          "({characters}). Rename one of them.").format(source=source, characters=UNSAFE_CHARACTERS))
    loose = sorted("/".join(p) for p in parts if len(p) < 2)
    classes = sorted({c for c, _, _ in inside})
    if len(classes) < MIN_CLASSES:
        _too_few_classes(source, classes)
    return inside, loose


def _archive_inside(source, name):
    return DataError(_("{source} holds another archive ({name}); archives inside are refused. Unpack it and put "
                       "its images in the class folders.").format(source=source, name=name))


def _too_many_files(source):
    return DataError(_("{source} holds more than {limit} files, the limit. Use fewer images.").format(
        source=source, limit=number(MAX_FILES)))


def _too_large(source):
    return DataError(_("{source} holds more than {limit} MB of files once unpacked, the limit. Use fewer or "
                       "smaller images.").format(source=source, limit=f"{MAX_TOTAL_BYTES / 1e6:g}"))


def _too_few_classes(source, classes):
    found = f" ({', '.join(classes)})" if classes else ""
    raise DataError(ngettext(
        "{source} holds {count} class folder{found}; a dataset needs at least {min_classes}, with at least "
        "{min_images} images each. Put each class's images in a folder of its own (cats/…, dogs/…) and zip "
        "those folders.",
        "{source} holds {count} class folders{found}; a dataset needs at least {min_classes}, with at least "
        "{min_images} images each. Put each class's images in a folder of its own (cats/…, dogs/…) and zip "
        "those folders.", len(classes)).format(source=source, count=len(classes), found=found,
                                               min_classes=MIN_CLASSES, min_images=MIN_IMAGES_PER_CLASS))


# ---- reading: hash, then decode -------------------------------------------------------------

def content_id(files, source, size):
    """A hash of every file's path and bytes and of the image size: the set's stable id."""
    digest = hashlib.sha256(f"cifar_core image folder {FORMAT_VERSION} {size}\n".encode())
    total = 0
    for _class_name, name, read in files:
        data = read(MAX_TOTAL_BYTES - total)
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise _too_large(source)
        if data.startswith(ARCHIVE_MAGIC) or data[257:262] == b"ustar":
            raise _archive_inside(source, name)
        digest.update(f"{name}\n{len(data)}\n".encode() + data)
    return digest.hexdigest()[:16]


def _decode(data, name, source, size):
    """(uint8 (size, size, 3), is greyscale), or None for a file that is not an image we read."""
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)  # reads the header only
    except Image.DecompressionBombError:
        image = None  # over twice Pillow's own limit: refused below with ours
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None
    if image is None or image.width * image.height > MAX_PIXELS:
        if image is not None:
            message = _("{name} in {source} is {width}×{height} pixels, over the limit of {limit} pixels for one "
                        "image (a decompression bomb, or a huge photo). Shrink it or remove it.")
        else:
            message = _("{name} in {source} is over the limit of {limit} pixels for one image (a decompression "
                        "bomb, or a huge photo). Shrink it or remove it.")
        raise DataError(message.format(name=name, source=source, limit=number(MAX_PIXELS),
                                       width=getattr(image, "width", None), height=getattr(image, "height", None)))
    try:
        return to_model_image(image, (size, size, 3)), image.mode in GREY_MODES
    except ImageError:
        return None  # damaged or truncated: skipped like a file that is not an image


def decode_all(files, source, size):
    """(images (N, size, size, C), labels, class names, files that are not images); refused when a
    class has too few images."""
    classes = sorted({c for c, _, _ in files})
    images, labels, skipped, grey = [], [], [], True
    for class_name, name, read in files:
        decoded = _decode(read(MAX_TOTAL_BYTES), name, source, size)
        if decoded is None:
            skipped.append(name)
            continue
        if len(images) == MAX_IMAGES:
            raise DataError(_("{source} holds more than {limit} images, the limit. Use fewer images per class.")
                            .format(source=source, limit=number(MAX_IMAGES)))
        images.append(decoded[0])
        labels.append(classes.index(class_name))
        grey = grey and decoded[1]
    _check_counts(np.bincount(labels, minlength=len(classes)), classes, source)
    x = np.stack(images)
    return (x[..., :1] if grey else x), np.asarray(labels, np.int64), classes, skipped


def _check_counts(counts, classes, source):
    if sum(1 for n in counts if n) < MIN_CLASSES:
        _too_few_classes(source, [c for c, n in zip(classes, counts) if n])
    small = [(c, n) for c, n in zip(classes, counts) if n < MIN_IMAGES_PER_CLASS]
    if len(small) == 1:
        raise DataError(ngettext(
            "Class '{name}' of {source} has only {count} image; every class needs at least {min_images}. Add "
            "images to it, or remove its folder.",
            "Class '{name}' of {source} has only {count} images; every class needs at least {min_images}. Add "
            "images to it, or remove its folder.", small[0][1]).format(
                name=small[0][0], source=source, count=small[0][1], min_images=MIN_IMAGES_PER_CLASS))
    if small:
        named = ", ".join(f"'{c}' ({n})" for c, n in small)
        raise DataError(_("Classes {names} of {source} have fewer than {min_images} images each; every class needs "
                          "at least that many. Add images to them, or remove their folders.").format(
            names=named, source=source, min_images=MIN_IMAGES_PER_CLASS))


def split_test_set(labels):
    """(train, test) indices: a seeded, stratified TEST_SHARE of each class (at least one) is held out."""
    n_test = max(len(np.unique(labels)), int(round(len(labels) * TEST_SHARE)))
    test = np.sort(stratified_sample(labels, n_test, np.random.default_rng(DEFAULT_SEED)))
    return np.setdiff1d(np.arange(len(labels)), test, assume_unique=True), test


def open_zip(file, source):
    """A zip opened for reading (bytes in a BytesIO, or a path); one that is not a zip is refused."""
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(_("{source} is not a zip file that can be read ({error}). Use a .zip of class folders.")
                        .format(source=source, error=exc)) from None
