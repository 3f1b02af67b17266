"""The imported image folders as datasets: where they are kept, their names and DatasetInfo entries,
the server's own folders (CIFAR_CORE_IMAGE_FOLDERS), uploads, and the CLI's --dataset folder:PATH.
NumPy and Pillow only: the web server imports this, never TensorFlow.

An imported set is written once to a folder of its own, `$KERAS_HOME/datasets/cifar_core-uploads/<id>/`
(the arrays as .npy files, opened memory-mapped, and a meta.json), its id a hash of its images and
image size (`image_folder.content_id`). So the dataset `folder:<id>` survives a restart, the same
images at the same size always give the same name, and any process of this machine with the same
KERAS_HOME (the dashboard, the CLI, and their workers, which receive it in the data env) loads it by
name. A refused import writes nothing; one that fails while writing removes its own folder.
"""

import io
import json
import os
import re
import shutil
import threading
import time
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np

from cifar_core.data import image_folder
from cifar_core.data.download import keras_cache_dir
from cifar_core.data.image_folder import (
    DEFAULT_IMAGE_SIZE,
    FORMAT_VERSION,
    check_image_size,
    clean_text,
)
from cifar_core.data.parsed_cache import ARRAY_NAMES
from cifar_core.data.splits import FOLDER_PREFIX, Dataset, DatasetInfo
from cifar_core.errors import CoreError, DataError, ParamError
from cifar_core.i18n import _, ngettext, number

FOLDERS_ENV = "CIFAR_CORE_IMAGE_FOLDERS"  # os.pathsep-separated folders or zips: datasets of the server
UPLOADS_ENV = "CIFAR_CORE_UPLOADS"  # "off": the server takes no uploads
CACHE_FOLDER = "cifar_core-uploads"
LISTED = 50  # skipped files named in meta.json
NAME = re.compile(re.escape(FOLDER_PREFIX) + r"[0-9a-f]{16}")


def cache_root():
    """Where imported sets live: `$KERAS_HOME/datasets/cifar_core-uploads/` (KERAS_HOME travels to
    this machine's workers with the rest of the data env)."""
    return keras_cache_dir() / CACHE_FOLDER


def uploads_allowed():
    return os.environ.get(UPLOADS_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


# ---- the stored sets ----------------------------------------------------------------------------

_metas = {}  # folder -> meta: a set never changes once written


def read_meta(folder):
    """The meta of a complete set in `folder`, or None."""
    if not (folder / "meta.json").is_file():
        return None
    if str(folder) not in _metas:
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != FORMAT_VERSION:
            return None
        _metas[str(folder)] = meta
    return _metas[str(folder)]


# ---- importing ------------------------------------------------------------------------------

def _write(folder, arrays, meta):
    """The arrays, then meta.json, whose presence marks a complete set; a failed write removes the folder."""
    unique = f"{os.getpid()}-{threading.get_ident()}.part"  # two imports of one set at once never mix
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in arrays.items():
            with open(folder / f"{name}.npy.{unique}", "wb") as f:
                np.save(f, array, allow_pickle=False)
            os.replace(folder / f"{name}.npy.{unique}", folder / f"{name}.npy")
        (folder / f"meta.json.{unique}").write_text(json.dumps(meta, indent=1))
        os.replace(folder / f"meta.json.{unique}", folder / "meta.json")
    except OSError as exc:
        if not (folder / "meta.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)
        raise DataError(_("Cannot write the imported images to {path} ({error}). Set KERAS_HOME to a writable "
                          "folder with free space.").format(path=folder, error=exc.strerror or exc)) from None


def _import(files, source, size):
    """The meta of the set these files make, imported now unless it was before."""
    files, loose = image_folder.class_files(files, source)
    folder = cache_root() / image_folder.content_id(files, source, size)
    existing = read_meta(folder)
    if existing is not None:
        return existing
    x, labels, classes, skipped = image_folder.decode_all(files, source, size)
    counts = np.bincount(labels, minlength=len(classes))
    train, test = image_folder.split_test_set(labels)
    meta = {"format": FORMAT_VERSION, "name": FOLDER_PREFIX + folder.name,
            "title": f"{clean_text(Path(source).stem)} ({size}×{size})", "source": source, "image_size": size,
            "channels": int(x.shape[-1]), "classes": classes, "counts": counts.tolist(),
            "n_train": len(train), "n_test": len(test), "not_images": skipped[:LISTED],
            "not_images_count": len(skipped), "outside_classes": loose[:LISTED], "outside_classes_count": len(loose),
            "imported": time.strftime("%Y-%m-%dT%H:%M:%S")}
    _write(folder, {"x_train": x[train], "y_train": labels[train], "x_test": x[test], "y_test": labels[test]}, meta)
    return meta


def import_upload(data, filename, size=DEFAULT_IMAGE_SIZE):
    """Import an uploaded .zip (bytes) of class folders; returns the set's meta. Refused with
    DataError when this server takes no uploads (UPLOADS_ENV=off)."""
    check_image_size(size)
    if not uploads_allowed():
        raise DataError(_("This server takes no uploads ({variable}=off). Ask whoever runs it to add your images "
                          "with {folders_variable}.").format(variable=UPLOADS_ENV, folders_variable=FOLDERS_ENV))
    source = clean_text(PurePosixPath(filename.replace("\\", "/")).name, 80)
    with image_folder.open_zip(io.BytesIO(data), source) as archive:
        return _import(image_folder.zip_files(archive, source), source, size)


def import_path(path, size=DEFAULT_IMAGE_SIZE):
    """Import a folder of class folders, or a .zip of them, from this machine; returns the set's meta."""
    check_image_size(size)
    path = Path(path).expanduser()
    source = clean_text(path.name or str(path), 80)
    if path.is_dir():
        return _import(image_folder.folder_files(path.resolve(), source), source, size)
    if not path.is_file():
        raise DataError(_("{path} does not exist. Give a folder of class folders (cats/…, dogs/…) or a .zip of "
                          "them.").format(path=path))
    with image_folder.open_zip(path, source) as archive:
        return _import(image_folder.zip_files(archive, source), source, size)


# ---- the imported sets as datasets -------------------------------------------------------------

_configured = {}  # (path, cache root) -> (dataset name, error)
_configured_lock = threading.Lock()


def is_folder_name(name):
    return isinstance(name, str) and NAME.fullmatch(name) is not None


def missing_message(name):
    """In the reader's language, as it is asked for: never keep it where another reader may see it."""
    return _("{name} is an image folder that is not on this machine: it was imported on another one, or its cache "
             "under {path} was removed. Import the images again (Data page, or --dataset folder:PATH).").format(
        name=name, path=cache_root())


def describe_folder_set(meta):
    """One paragraph, in the reader's language: images, classes and their counts, the split, and what was skipped."""
    classes = ", ".join(f"{c} {n}" for c, n in list(zip(meta["classes"], meta["counts"]))[:10])
    more = ", …" if len(meta["classes"]) > 10 else ""
    if meta["channels"] == 1:
        text = _("{count} greyscale images {size}×{size} in {n_classes} classes ({classes}): {n_train} for "
                 "training, {n_test} held out for testing; from {source}.")
    else:
        text = _("{count} colour images {size}×{size} in {n_classes} classes ({classes}): {n_train} for "
                 "training, {n_test} held out for testing; from {source}.")
    text = text.format(count=number(sum(meta['counts'])), size=meta["image_size"], n_classes=len(meta["classes"]),
                       classes=classes + more, n_train=number(meta['n_train']), n_test=number(meta['n_test']),
                       source=meta["source"])
    for key in ("not_images", "outside_classes"):
        count = meta[f"{key}_count"]
        if count:
            names = ", ".join(meta[key][:5]) + (", …" if count > 5 else "")
            if key == "not_images":
                skipped = ngettext("{count} file that is not an image was skipped: {names}.",
                                   "{count} files that are not images were skipped: {names}.", count)
            else:
                skipped = ngettext("{count} file outside a class folder was skipped: {names}.",
                                   "{count} files outside a class folder were skipped: {names}.", count)
            text += " " + skipped.format(count=number(count), names=names)
    return text


def _load(name, folder, progress=None):
    meta = read_meta(folder)
    if meta is None:
        raise DataError(missing_message(name))
    try:
        arrays = [np.load(folder / f"{array}.npy", mmap_mode="r", allow_pickle=False) for array in ARRAY_NAMES]
    except (OSError, ValueError) as exc:
        raise DataError(_("The cache of {name} in {path} is damaged ({error}). Delete that folder and import the "
                          "images again.").format(name=name, path=folder, error=exc)) from None
    return Dataset(name, *arrays, list(meta["classes"]), source=meta["source"])


def folder_info(name):
    """The DatasetInfo of an imported set; one not on this machine reads as not available."""
    folder = cache_root() / name[len(FOLDER_PREFIX):]
    meta = read_meta(folder)
    if meta is None:
        return DatasetInfo(name, name, missing_message(name), partial(_load, name, folder), lambda: False,
                           image_shape=(), num_classes=0)
    size = meta["image_size"]
    return DatasetInfo(name, meta["title"], describe_folder_set(meta), partial(_load, name, folder),
                       lambda: (folder / "meta.json").is_file(), image_shape=(size, size, meta["channels"]),
                       num_classes=len(meta["classes"]))


def _configured_paths():
    return list(filter(None, (p.strip() for p in os.environ.get(FOLDERS_ENV, "").split(os.pathsep))))


def import_configured_folders():
    """Import each folder of FOLDERS_ENV once per process (the dashboard and the CLI call this as
    they start; it may take a while for a big folder) and return `configured_folders()`."""
    for path in _configured_paths():
        key = (path, str(cache_root()))
        with _configured_lock:
            if key not in _configured:
                try:
                    _configured[key] = (import_path(path)["name"], None)
                except CoreError as exc:
                    _configured[key] = (None, str(exc))
    return configured_folders()


def configured_folders():
    """[(path, dataset name or None, error or None)] of FOLDERS_ENV, as this process imported them.
    A query: it imports nothing, and a folder not imported yet reads (path, None, None)."""
    with _configured_lock:
        return [(path, *_configured.get((path, str(cache_root())), (None, None))) for path in _configured_paths()]


def folder_names():
    """The imported sets: those of FOLDERS_ENV first, then the others in the order they came."""
    configured = [name for _, name, _ in configured_folders() if name]
    try:
        folders = [Path(e.path) for e in os.scandir(cache_root()) if re.fullmatch(r"[0-9a-f]{16}", e.name)]
    except OSError:
        folders = []
    metas = sorted(filter(None, map(read_meta, folders)), key=lambda m: (m["imported"], m["name"]))
    return configured + [m["name"] for m in metas if m["name"] not in configured]


def resolve_argument(spec, image_size=None):
    """(dataset name, meta of an import or None) for the command line's --dataset and --image-size:
    folder:PATH imports PATH (once), folder:ID names a set imported before."""
    if spec is None or not spec.startswith(FOLDER_PREFIX):
        if image_size is not None:
            raise ParamError(_("--image-size applies only to --dataset folder:PATH."))
        return spec, None
    path = spec[len(FOLDER_PREFIX):]
    if is_folder_name(spec) and not Path(path).exists():
        if image_size is not None:
            raise ParamError(_("--image-size applies only to --dataset folder:PATH; {name} has its own size.")
                             .format(name=spec))
        return spec, None
    meta = import_path(path, DEFAULT_IMAGE_SIZE if image_size is None else image_size)
    return meta["name"], meta
