"""Helpers shared by the tests: small archives in the official CIFAR-10 format, where the real sample
lives, stored speeds for time estimates, synthetic stored evaluations, and the AppTest helpers of the
page tests."""

import io
import json
import pickle
import tarfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def cifar_batch(n, seed):
    """One batch dict as the official files hold it: bytes keys, uint8 (n, 3072) rows."""
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"test batch", b"labels": [int(i % 10) for i in range(n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}


def write_cifar(path, n=20, folder=False, skip=(), replace=None, order=None):
    """Write a CIFAR-10 archive (or extracted folder) in the official layout; return its path.

    `order` lists the member names in the order the archive holds them."""
    members = {"batches.meta": {b"label_names": [c.encode() for c in CLASS_NAMES],
                                b"num_cases_per_batch": n, b"num_vis": 3072}}
    for i in range(1, 6):
        members[f"data_batch_{i}"] = cifar_batch(n, i)
    members["test_batch"] = cifar_batch(n, 99)
    raw = {name: pickle.dumps(value, protocol=2) for name, value in members.items() if name not in skip}
    raw.update(replace or {})
    if order:
        raw = {name: raw[name] for name in order}
    path = Path(path)
    if folder:
        target = path / "cifar-10-batches-py"
        target.mkdir(parents=True)
        for name, data in raw.items():
            (target / name).write_bytes(data)
        return path
    with tarfile.open(path, "w:gz") as tar:
        for name, data in raw.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def seed_timings(path, key, **speed):
    """Store a speed in the timings file `path` under `key` (`estimate.timings_path()` and
    `estimate.speed_key(config)`), as a measurement would: estimates and fits to a time budget for
    those settings are then arithmetic, with no worker started. (The caller passes them: importing
    the estimate here would slow every test session's start.)"""
    measured = {"train_batch": 0.1, "val_batch": 0.05, "epoch_overhead": 0.3, "startup": 3.0, "dtype_policy": "float32",
                **speed}
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[key] = measured
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(timings))


APP_TIMEOUT = 240  # the first page that asks the inspection worker waits for TensorFlow to load


def open_app(runs_dir, monkeypatch, page=None, query=None):
    monkeypatch.setenv("CIFAR_CORE_RUNS", str(runs_dir))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def image_captions(at):
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            if getattr(child, "type", None) == "image":
                found.extend(img.caption for img in child.proto.imgs)
            walk(child)
    walk(at._tree)
    return found


def texts(at):
    return " ".join(str(e.value) for kind in ("markdown", "info", "error", "warning", "success", "caption")
                    for e in getattr(at, kind))


def wait_for_estimate(at, seconds=120):
    """Rerun until the time estimate, measured in the background, is on the page (AppTest does not
    tick the line's timer)."""
    for _ in range(seconds):
        if "Estimated time on this machine: **about" in texts(at):
            return
        time.sleep(1)
        at.run()
        assert not at.exception
    raise AssertionError(texts(at))


def image_bytes(mode, size=(40, 30), fmt="PNG", **save):
    """An image file's bytes: one colour, in Pillow's `mode`, saved as `fmt`."""
    buf = io.BytesIO()
    colour = {"L": 128, "P": 3, "1": 1, "I;16": 500}.get(mode, (200, 30, 40, 128)[:len(mode)])
    Image.new(mode, size, colour).save(buf, format=fmt, **save)
    return buf.getvalue()


def last_json(text):
    """The last line of a command's output, parsed: the commands' --json contract."""
    return json.loads(text.strip().splitlines()[-1])


def synthetic_evaluation(n=500, classes=4, seed=0):
    """Labels and softmax probabilities that are right about 60 % of the time."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)).astype(np.float32)
    logits[np.arange(n), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities.astype(np.float32)


def store_evaluation(store, run_id, labels, probabilities, class_names, **extra):
    """Write an evaluation of the run's current model file as the worker would."""
    from cifar_core.runs.evaluation import summarize
    figures = {"stamp": store.model_stamp(run_id), **summarize(labels, probabilities), "tta": False,
               "class_names": list(class_names), "seconds": 1.0, "images_per_second": 500.0, **extra}
    return store.write_evaluation(run_id, labels, probabilities, figures)


def evaluated_run(store, config, labels, probabilities, class_names):
    """A completed run of `config` with a (fake) model file and a stored evaluation: nothing trains."""
    run_id = store.create(config)
    (store.path(run_id) / "best.keras").write_bytes(b"a model file")
    store.set_status(run_id, "completed")
    store_evaluation(store, run_id, labels, probabilities, class_names)
    return run_id


def train_in_process(store, config):
    """Train and evaluate a run of `config` in this process (so that a test's patches of the worker's
    functions apply), in a thread as on a Dask worker: returns its run id."""
    import threading

    from cifar_core.worker.evaluation import evaluate_run
    from cifar_core.worker.training import train_run
    run_id = store.create(config)
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(train_run(store, run_id)))
    thread.start()  # the dtype policy is set in the training thread only, as on a worker
    thread.join()
    assert outcome["status"] == "completed", outcome
    evaluate_run(store, run_id)
    return run_id
