"""Downloads that verify a checksum and never leave a half-written file that looks complete."""

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from cifar_core.errors import DataError
from cifar_core.i18n import _

CHUNK = 1 << 20


def keras_cache_dir():
    """The Keras datasets cache: `$KERAS_HOME/datasets`, else `~/.keras/datasets`."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def file_md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url, dest, md5, progress=None, timeout=30):
    """Fetch `url` into `dest`, checked against `md5`.

    The bytes go to a temporary file beside `dest` that replaces it only once the
    checksum matches, so an interrupted or corrupt download leaves nothing behind.
    `progress(done_bytes, total_bytes_or_None)` is called as data arrives.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DataError(_("Cannot write to {path}: {error}. Set KERAS_HOME to a writable folder.").format(
            path=dest.parent, error=exc.strerror)) from None
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total else None
            done = 0
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if digest.hexdigest() != md5:
            raise DataError(_("The download of {url} is corrupt (md5 {md5}, expected {expected}). Try again, or fetch "
                              "the file by hand.").format(url=url, md5=digest.hexdigest(), expected=md5))
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise DataError(_("Cannot download {url} ({error}). With no network, fetch that file on another machine "
                          "and put it at {path}, or use the 'digits' dataset, which needs no download.").format(
            url=url, error=reason, path=dest)) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def imagenet_weights_path():
    """Where Keras keeps VGG16's ImageNet weights: `$KERAS_HOME/models`, else `~/.keras/models`."""
    return keras_cache_dir().parent / "models" / VGG16_WEIGHTS_FILE


def imagenet_weights_available():
    """True when the weights are on this machine, so a VGG16 run needs no download (no TensorFlow)."""
    return imagenet_weights_path().is_file()
