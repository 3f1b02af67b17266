"""The fast recipe's tricks, one at a time: test accuracy and seconds of training for each, the
median of three seeds on the CIFAR-10 data that CIFAR10_PATH names (the real sample here).

    python bench/fast_recipe.py [--seeds 1,2,3] [--row NAME ...]
    python bench/fast_recipe.py --full-size 50000   # seconds per epoch on full-size CIFAR-10

Rows "added" start from the recipe the fast preset had before (the first row) and add one trick
each, in turn, to the preset as it is now; rows "varied" change one setting of today's preset, to
show what a trick dropped from it would give. Every run goes through the job manager and is tested
by the inspection worker, as `python -m cifar_core train --preset fast --seed S` and `evaluate` do.
Prints a Markdown table, then one JSON line.

--full-size N times the fast preset's epoch on N synthetic images of CIFAR-10's size (random
pixels and labels: the same work per image), in this process with the product's own model and
pipeline (`training.compiled_model`): the second epoch, validation included (the first warms up);
checkpoints and the time-lapse are not. Full CIFAR-10 is not on this machine; this is what its
training time is projected from.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cifar_core.config.presets import PRESETS  # noqa: E402
from cifar_core.server import inspection  # noqa: E402  (after the path)
from cifar_core.server.jobs import JobManager  # noqa: E402

FAST = PRESETS["fast"]
BEFORE = ({"width": 0.5, "stem": "conv"},
          {**FAST["training"], "optimizer": "adam", "learning_rate": 4e-3, "epochs": 10, "augment": ["flip", "shift"],
           "val_split": 0.3})

# (name, kind, what it changes, (hparams, training) from the row before (added) or from the preset (varied))
ROWS = (
    ("before", "added", "the preset before: 3×3 stem, flip and 10 % shift, 30 % held out, Adam at 4e-3, 10 epochs",
     lambda h, t: BEFORE),
    ("val_split", "added", "hold out 10 % for validation, not 30 %: more images to learn from",
     lambda h, t: (h, {**t, "val_split": 0.1})),
    ("crop", "added", "a 2-pixel crop with mirrored edges in place of the 10 % shift",
     lambda h, t: (h, {**t, "augment": ["flip", "crop"]})),
    ("whiten", "added", "a fixed patch-whitening first layer in place of the 3×3 stem",
     lambda h, t: ({**h, "stem": "whiten"}, t)),
    ("epochs", "added", f"{FAST['training']['epochs']} epochs: the time the faster network saved",
     lambda h, t: (h, {**t, "epochs": FAST["training"]["epochs"]})),
    ("sgd", "added", "SGD with Nesterov momentum at 0.2 in place of Adam at 4e-3",
     lambda h, t: (h, {**t, "optimizer": "sgd", "learning_rate": 0.2})),
    ("no_tta", "varied", "without the test-time flip",
     lambda h, t: (h, {**t, "tta": False})),
    ("width", "varied", "at ¾ width, in 12 epochs (about the same time)",
     lambda h, t: ({**h, "width": 0.75}, {**t, "epochs": 12})),
    ("smoothing", "varied", "label smoothing 0.2, not 0.1",
     lambda h, t: (h, {**t, "label_smoothing": 0.2})),
)


def settings_of_rows(names):
    """{row name: (hparams, training)}, the added rows built up in turn."""
    settings, hparams, training = {}, dict(FAST["hparams"]), dict(FAST["training"])
    for name, kind, _, change in ROWS:
        if kind == "added":
            hparams, training = change(hparams, training)
            settings[name] = (hparams, training)
        else:
            settings[name] = change(dict(FAST["hparams"]), dict(FAST["training"]))
    assert (hparams, training) == (FAST["hparams"], FAST["training"]), "the last added row is the preset"
    return {name: settings[name] for name in names}


def multi_crop_accuracy(store, run_id):
    """Test accuracy of the run's best model with the speed records' multi-crop test-time
    augmentation, which the product does not use: the image and its mirror image (weight 1 each),
    and both moved by one pixel down-right and up-left (weight ½ each), edges mirrored."""
    from cifar_core.data.datasets import load_dataset
    from cifar_core.worker.evaluation import load_run_model, predict_batched

    test = load_dataset(store.config(run_id)["dataset"])
    model = load_run_model(store, run_id)
    padded = np.pad(test.x_test, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="symmetric")
    probabilities = 0
    for dy, dx, weight in ((0, 0, 1.0), (1, 1, 0.5), (-1, -1, 0.5)):
        moved = np.ascontiguousarray(padded[:, 1 + dy:33 + dy, 1 + dx:33 + dx])
        for view in (moved, np.ascontiguousarray(moved[:, :, ::-1])):
            probabilities = probabilities + weight * predict_batched(model, view)
    return float(np.mean(np.argmax(probabilities, axis=1) == test.y_test))


def full_size_epoch(images):
    """Seconds of the fast preset's second epoch on `images` synthetic full-size images."""
    from cifar_core.process import configure_process
    configure_process()
    import keras

    from cifar_core.config.run_config import make_config
    from cifar_core.data.splits import Dataset, split_dataset
    from cifar_core.worker.training import compiled_model

    rng = np.random.default_rng(0)
    ds = Dataset("cifar10", rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8),
                 rng.integers(0, 10, images), np.zeros((10, 32, 32, 3), np.uint8), np.arange(10),
                 [str(i) for i in range(10)])
    config = make_config(FAST["dataset"], FAST["arch"], FAST["hparams"], **{**FAST["training"], "epochs": 2})
    split = split_dataset(ds, config["training"]["val_split"], 1)
    model, train_ds, val_ds = compiled_model(config, ds, split)
    marks = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            marks.append(time.perf_counter())

    model.fit(train_ds, validation_data=val_ds, epochs=2, verbose=0, callbacks=[Clock()])
    seconds = marks[3] - marks[2]
    return {"images": images, "n_train": len(split.train), "n_val": len(split.val),
            "epoch_seconds": round(seconds, 1), "train_images_per_second": round(len(split.train) / seconds),
            "first_epoch_seconds": round(marks[1] - marks[0], 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--row", action="append", choices=[row[0] for row in ROWS])
    parser.add_argument("--full-size", type=int, metavar="N")
    args = parser.parse_args(argv)
    if args.full_size is not None:
        if args.full_size < 100:
            parser.error("--full-size needs at least 100 images")
        print(json.dumps(full_size_epoch(args.full_size)))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    manager = JobManager(tempfile.mkdtemp(prefix="bench-fast-recipe-"))
    results = []
    for name, (hparams, training) in settings_of_rows(args.row or [row[0] for row in ROWS]).items():
        runs = []
        for seed in seeds:
            run_id = manager.submit(FAST["dataset"], FAST["arch"], hparams, preset="fast",
                                    **{**training, "seed": seed})
            status = manager.wait(run_id, timeout=3600)
            if status["status"] != "completed":
                sys.exit(f"row {name}, seed {seed}: the run ended {status['status']}: {status.get('reason')}")
            runs.append({"seed": seed, "train_seconds": status.get("train_seconds"),
                         "test_accuracy": round(inspection.evaluate(manager.store, run_id)["accuracy"], 4),
                         "multi_crop_accuracy": round(multi_crop_accuracy(manager.store, run_id), 4)})
            print(json.dumps({"row": name, **runs[-1]}), file=sys.stderr, flush=True)
        kind, what = next((k, w) for n, k, w, _ in ROWS if n == name)
        results.append({"row": name, "kind": kind, "what": what, "runs": runs,
                        "median_accuracy": statistics.median(r["test_accuracy"] for r in runs),
                        "median_multi_crop": statistics.median(r["multi_crop_accuracy"] for r in runs),
                        "median_seconds": statistics.median(r["train_seconds"] for r in runs)})
    print("| row | change | test accuracy, median | each seed | training, median | with multi-crop TTA |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    for r in results:
        each = ", ".join(f"{run['test_accuracy']:.3f}" for run in r["runs"])
        sign = "+ " if r["kind"] == "added" and r["row"] != "before" else "varied: " if r["kind"] == "varied" else ""
        print(f"| {r['row']} | {sign}{r['what']} | {r['median_accuracy']:.3f} | {each} | {r['median_seconds']:.1f} s | "
              f"{r['median_multi_crop']:.3f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
