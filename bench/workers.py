"""One measurement per process, called by bench/run.py: `python bench/workers.py NAME ARGS…`.

Each prints one JSON object as its last line.
"""

import json
import os
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cifar_core.data.splits import DEFAULT_SEED, DEFAULT_VAL_SPLIT  # noqa: E402  (after the path)
from cifar_core.process import configure_process  # noqa: E402


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def write_synthetic(folder, per_batch, n_test):
    """Random uint8 images in the official layout (an extracted cifar-10-batches-py folder)."""
    target = Path(folder) / f"synthetic-{per_batch}" / "cifar-10-batches-py"
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                  "ship", "truck")]
    (target / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    for name, n in [(f"data_batch_{i}", int(per_batch)) for i in range(1, 6)] + [("test_batch", int(n_test))]:
        batch = {b"labels": (np.arange(n) % 10).tolist(), b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        (target / name).write_bytes(pickle.dumps(batch, protocol=2))
    return {"path": str(target.parent)}


def _split(train_size):
    from cifar_core.data.datasets import load_dataset
    from cifar_core.data.splits import split_dataset
    ds = load_dataset("cifar10")
    split = split_dataset(ds, DEFAULT_VAL_SPLIT, DEFAULT_SEED, int(train_size))
    return ds, split


def _steady(train_size, seconds):
    """Images per second of the median epoch after the first (which traces the graphs)."""
    steady = float(np.median(seconds[1:]))
    return {"images_per_second": int(train_size) / steady, "epoch_seconds": [round(s, 3) for s in seconds]}


def train_product(train_size, epochs=4):
    """The product's path: the job manager, its live-progress listener, the tf.data pipeline.

    Epoch seconds cover training and validation, as the notebook's below do."""
    from cifar_core.server.jobs import JobManager
    with tempfile.TemporaryDirectory() as runs:
        manager = JobManager(runs)
        run_id = manager.submit("cifar10", "seed_cnn", epochs=int(epochs), batch_size=32, learning_rate=1e-4,
                                train_size=int(train_size), val_split=DEFAULT_VAL_SPLIT, seed=DEFAULT_SEED)
        status = manager.wait(run_id)
        assert status["status"] == "completed", status
        seconds = [e["seconds"] for e in manager.store.history(run_id)["epochs"]]
    return _steady(train_size, seconds)


def train_notebook(train_size, epochs=4):
    from notebook_way import train_notebook_way
    ds, split = _split(train_size)
    seconds = train_notebook_way(ds.x_train[split.train], ds.y_train[split.train], ds.x_train[split.val],
                                 ds.y_train[split.val], epochs=int(epochs))
    return _steady(train_size, seconds)


def memory_product(train_size=2000):
    from cifar_core.data.datasets import load_dataset
    from cifar_core.server.jobs import JobManager
    load_dataset("cifar10")
    with tempfile.TemporaryDirectory() as runs:
        manager = JobManager(runs)
        run_id = manager.submit("cifar10", "seed_cnn", epochs=1, batch_size=32, train_size=int(train_size))
        status = manager.wait(run_id)
        assert status["status"] == "completed", status
    # The training worker's peak (it parses the dataset and trains); this process only checked the config.
    return {"peak_rss_mb": status["peak_rss_mb"], "caller_peak_rss_mb": round(peak_rss_mb(), 1)}


def memory_notebook(train_size=2000):
    """The notebooks held the whole set as standardised float64 arrays, then split off validation."""
    from notebook_way import train_notebook_way
    from sklearn.model_selection import train_test_split

    from cifar_core.data.datasets import load_dataset
    ds = load_dataset("cifar10")
    x_train = ds.x_train.astype("float64")
    x_test = ds.x_test.astype("float64")
    mean, std = x_train.mean(axis=(0, 1, 2)), x_train.std(axis=(0, 1, 2))
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    x_tr, x_val, y_tr, y_val = train_test_split(x_train, ds.y_train, test_size=DEFAULT_VAL_SPLIT,
                                                stratify=ds.y_train, random_state=DEFAULT_SEED)
    n = int(train_size)
    # One short epoch on a subset; train_notebook_way's own float64 copy of the subset is small.
    train_notebook_way(x_tr[:n], y_tr[:n], x_val[:1000], y_val[:1000], epochs=1)
    del x_test
    return {"peak_rss_mb": round(peak_rss_mb(), 1)}


def data_page():
    """First render of the Data page in a fresh process (dataset parse included), without TensorFlow."""
    from streamlit.testing.v1 import AppTest
    with tempfile.TemporaryDirectory() as runs:
        os.environ["CIFAR_CORE_RUNS"] = runs
        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120).run()
        started = time.perf_counter()
        at.switch_page("pages/data.py").run()
        seconds = time.perf_counter() - started
        assert not at.exception and "tensorflow" not in sys.modules
    return {"seconds": round(seconds, 3)}


def model_answers(repeats=10):
    """Through the product's inspection worker (warm, model kept): feature maps of every layer for one
    image, and the evaluation's throughput on the test set."""
    from cifar_core.data.datasets import load_dataset
    from cifar_core.server import inspection
    from cifar_core.server.jobs import JobManager
    ds = load_dataset("cifar10")
    with tempfile.TemporaryDirectory() as runs:
        manager = JobManager(runs)
        run_id = manager.submit("cifar10", "seed_cnn", epochs=1, batch_size=32, train_size=500)
        assert manager.wait(run_id)["status"] == "completed"
        layers = inspection.model_info(manager.store, run_id)["feature_layers"]
        inspection.feature_maps(manager.store, run_id, ds.x_test[0], layers)  # loads the model, builds the extractor
        times = []
        for i in range(repeats):
            started = time.perf_counter()
            inspection.feature_maps(manager.store, run_id, ds.x_test[i + 1], layers)
            times.append(time.perf_counter() - started)
        evaluation = inspection.evaluate(manager.store, run_id)
    return {"feature_maps_seconds": round(float(np.median(times)), 4),
            "eval_images_per_second": evaluation["images_per_second"]}


def gpu_check():
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    return {"gpu": gpus[0].name if gpus else None}


if __name__ == "__main__":
    configure_process()
    name, *args = sys.argv[1:]
    print(json.dumps(globals()[name](*args)))
