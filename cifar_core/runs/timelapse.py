"""The feature-map time-lapse: a small fixed probe recorded after every epoch of a run.

About 8 test images (one per class where possible); after each epoch (and once before the first,
when the weights are still noise), the first convolution's activated maps, one deeper layer's, and
the first layer's filters. Everything is stored as 8-bit, downsampled and capped in channels, in
`timelapse/epoch_NNNN.npz` of the run's folder, within `BUDGET_BYTES` per run. Recording runs in
the training worker (`cifar_core.worker.timelapse`); this module needs NumPy only, so the web server
can read and draw it.
"""

import json
import math
import re

import numpy as np

FOLDER = "timelapse"
PROBE = "probe.json"
BUDGET_BYTES = 20 * 1024 * 1024  # per run, all epochs together (stated in the README)
PROBE_IMAGES = 8
MAX_CHANNELS = 16  # per layer: the first 16 feature maps
MAX_SIDE = 16  # maps larger than 16×16 are average-pooled down to it
_EPOCH_FILE = re.compile(r"epoch_(\d{4})\.npz$")


def probe_indices(labels, count=PROBE_IMAGES):
    """Test-set rows of the probe: the first image of each class in class order, then the next
    images of each class in turn, until `count` (fixed by the labels alone: the same every epoch)."""
    labels = np.asarray(labels)
    per_class = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked = []
    while len(picked) < min(count, len(labels)):
        for rows in per_class:
            if rows and len(picked) < count:
                picked.append(int(rows.pop(0)))
    return picked


def quantise_maps(values):
    """Float maps (N, H, W, C) to uint8 with one [low, high] range per channel over the N images
    (so a channel's maps compare across images), after pooling to at most MAX_SIDE per side and
    keeping the first MAX_CHANNELS channels. Returns (uint8 maps, float32 (C, 2) ranges)."""
    values = np.asarray(values, dtype=np.float32)[..., :MAX_CHANNELS]
    n, height, width, channels = values.shape
    factor = max(1, math.ceil(max(height, width) / MAX_SIDE))
    if factor > 1:
        h, w = height // factor, width // factor
        values = values[:, :h * factor, :w * factor].reshape(n, h, factor, w, factor, channels).mean(axis=(2, 4))
    low = values.min(axis=(0, 1, 2))
    high = values.max(axis=(0, 1, 2))
    span = np.where(high > low, high - low, 1.0)
    with np.errstate(invalid="ignore"):  # a diverged run's maps hold NaN or infinities: drawn as 0
        quantised = np.round(np.nan_to_num(255 * (values - low) / span)).clip(0, 255).astype(np.uint8)
    return quantised, np.stack([low, high], axis=1).astype(np.float32)


def epochs_to_record(epochs, bytes_per_epoch, budget=BUDGET_BYTES):
    """The epochs (0 = before training) whose snapshots fit the budget: every epoch when they all
    fit, else every k-th, always with the first and the last."""
    stride = max(1, math.ceil((epochs + 1) * bytes_per_epoch / budget))
    return sorted(set(range(0, epochs + 1, stride)) | {epochs})


def write_snapshot(folder, epoch, filters, maps):
    """Write one epoch's snapshot: uint8 filters and {layer role: (uint8 maps, ranges)}."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"filters": filters}
    for role, (quantised, ranges) in maps.items():
        arrays[f"{role}_maps"], arrays[f"{role}_ranges"] = quantised, ranges
    path = folder / f"epoch_{epoch:04d}.npz"
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tmp.replace(path)  # a reader never sees half a file
    return path.stat().st_size


def recorded_epochs(run_folder):
    """The epochs with a snapshot, in order (0 is before training)."""
    folder = run_folder / FOLDER
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _EPOCH_FILE.match(p.name)))


def read_probe(run_folder):
    """{indices, layers: {role: layer name}} of the run's probe, or None before it is written."""
    try:
        return json.loads((run_folder / FOLDER / PROBE).read_text())
    except (OSError, ValueError):
        return None


def read_snapshot(run_folder, epoch):
    """{filters, first_maps, first_ranges, deeper_maps, deeper_ranges} of one epoch, as arrays."""
    with np.load(run_folder / FOLDER / f"epoch_{epoch:04d}.npz") as data:
        return {key: data[key] for key in data.files}


def folder_bytes(run_folder):
    folder = run_folder / FOLDER
    return sum(p.stat().st_size for p in folder.iterdir()) if folder.is_dir() else 0
