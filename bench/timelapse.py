"""What the per-epoch time-lapse costs a run: the extra prediction on the validation images, the
probe's Grad-CAM, and the bytes of a snapshot, against the epoch itself.

    python bench/timelapse.py [--json] [--arch seed_cnn --arch fast_cnn] [--train-size 4194]

For each architecture: the run's own compiled model and pipelines (`training.compiled_model`) on
CIFAR10_PATH (the real sample by default) train one epoch as a run does, then each part of a
snapshot is timed three times (the median is kept) with the recorder's own code. Prints a Markdown
table, then one JSON object as the last line.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"


def median_seconds(action, repeats=3):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(arch, train_size):
    import keras

    from cifar_core.config.run_config import make_config
    from cifar_core.data.datasets import load_dataset
    from cifar_core.data.splits import split_dataset
    from cifar_core.runs import timelapse
    from cifar_core.worker.timelapse import recorder
    from cifar_core.worker.training import compiled_model

    config = make_config("cifar10", arch, train_size=train_size)
    training = config["training"]
    ds = load_dataset("cifar10")
    split = split_dataset(ds, training["val_split"], training["seed"], training["train_size"])
    model, train_ds, val_ds = compiled_model(config, ds, split)
    folder = Path(tempfile.mkdtemp(prefix="cifar-core-timelapse-"))
    record = recorder(folder, ds.x_test, ds.y_test, training["epochs"], val_ds=val_ds, val_rows=split.val,
                      val_labels=ds.y_train[split.val])
    started = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0, callbacks=[record])
    epoch_seconds = time.perf_counter() - started  # with the two snapshots (before and after)
    predict = median_seconds(lambda: model.predict(val_ds, verbose=0))
    cams = median_seconds(record.probe_cams)
    full = timelapse.read_snapshot(folder, 1)
    extra_keys = ("val_predicted", "val_confidence", "cam", "cam_classes")
    plain = {k: v for k, v in full.items() if k not in extra_keys}
    size = os.path.getsize(folder / timelapse.FOLDER / "epoch_0001.npz")
    timelapse._write_npz(folder / "plain.npz", plain)
    keras.backend.clear_session()
    return {"arch": arch, "train_images": len(split.train), "val_images": len(split.val),
            "epoch_seconds": round(epoch_seconds, 2), "val_predict_seconds": round(predict, 3),
            "probe_cam_seconds": round(cams, 3), "snapshot_bytes": size,
            "snapshot_bytes_without": os.path.getsize(folder / "plain.npz"),
            "epochs_in_budget": len(timelapse.epochs_to_record(1000, size * 1.1)) - 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", help="repeatable (default: seed_cnn and fast_cnn)")
    parser.add_argument("--train-size", type=int, default=None, help="training images (default: all)")
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    args = parser.parse_args()
    os.environ.setdefault("CIFAR10_PATH", str(SAMPLE))
    rows = [measure(arch, args.train_size) for arch in args.arch or ("seed_cnn", "fast_cnn")]
    print("| architecture | train / val images | epoch (with recording) | val prediction | probe Grad-CAM "
          "| snapshot | without predictions and Grad-CAM |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        share = (r["val_predict_seconds"] + r["probe_cam_seconds"]) / r["epoch_seconds"]
        print(f"| {r['arch']} | {r['train_images']:,} / {r['val_images']:,} | {r['epoch_seconds']:.1f} s "
              f"| {r['val_predict_seconds']:.2f} s | {r['probe_cam_seconds']:.2f} s ({share:.0%} of the epoch "
              f"together) | {r['snapshot_bytes']:,} B | {r['snapshot_bytes_without']:,} B |")
    if args.json:
        print(json.dumps({"runs": rows}))


if __name__ == "__main__":
    main()
