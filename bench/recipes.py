"""Presets against the clock: the estimate before Start against the measured time, and test accuracy
against seconds of training for the fast recipe and the notebooks' method.

    python bench/recipes.py estimates [--preset NAME ...]   # every preset by default
    python bench/recipes.py accuracy [--preset fast --preset plain_cnn_full]

Every run goes through the job manager, as the dashboard's and the CLI's do; the data is whatever
CIFAR10_PATH names (the real sample here). Prints a Markdown table, then one JSON line.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cifar_core.config.presets import PRESETS  # noqa: E402
from cifar_core.config.run_config import make_config  # noqa: E402
from cifar_core.data.datasets import DATASETS  # noqa: E402
from cifar_core.data.download import imagenet_weights_available  # noqa: E402
from cifar_core.runs.store import RunStore, write_json  # noqa: E402
from cifar_core.server import estimate, inspection  # noqa: E402  (after the path)
from cifar_core.server.jobs import JobManager  # noqa: E402

MARKS = (30, 60, 120)  # seconds of training
TARGETS = (0.45, 0.47, 0.55)  # test accuracy


def settings(name):
    """A preset's settings as a run would get them: a class version fitted to its budget. Without
    ImageNet weights here (no network), VGG16 starts from random ones: the same work per batch."""
    offline_vgg = PRESETS[name]["arch"] == "vgg16_transfer" and not imagenet_weights_available()
    return estimate.recipe_run(PRESETS[name], hparams={"weights": "none"} if offline_vgg else None)


def estimates(names):
    rows = []
    manager = JobManager(tempfile.mkdtemp(prefix="bench-recipes-"))
    for name in names:
        if not DATASETS[PRESETS[name]["dataset"]].is_local():
            print(f"{name}: skipped, its dataset is not on this machine", file=sys.stderr)
            continue
        dataset, arch, hparams, training = settings(name)
        started = time.perf_counter()
        config = make_config(dataset, arch, hparams, **training)
        found = estimate.estimate(config)
        measuring = time.perf_counter() - started
        run_id = manager.submit(dataset, arch, hparams, preset=name, **training)
        status = manager.wait(run_id, timeout=3600)
        test = inspection.evaluate(manager.store, run_id)["accuracy"]
        ran = status.get("epochs_completed") or training["epochs"]  # early stopping can end a run sooner
        if ran != training["epochs"]:
            found["seconds"] = estimate.seconds_for({**config, "training": {**config["training"], "epochs": ran}},
                                                    estimate.stored_speed(config))
        rows.append({"preset": name, "epochs": training["epochs"], "epochs_run": ran,
                     "train_size": training.get("train_size"),
                     "estimate_s": round(found["seconds"], 1), "measured_s": status.get("train_seconds"),
                     "error": round(found["seconds"] / status["train_seconds"] - 1, 3) if status.get("train_seconds") else None,
                     "calibration_s": round(measuring, 1) if found["measured_now"] else 0.0,
                     "status": status["status"], "test_accuracy": round(test, 4),
                     "dtype_policy": status.get("dtype_policy")})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| Preset | Epochs (run) | Images | Estimate (s) | Measured (s) | Error | Test accuracy |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['preset']} | {r['epochs']} ({r['epochs_run']}) | {r['train_size'] or 'all'} | {r['estimate_s']} | {r['measured_s']} | "
              f"{r['error']:+.0%} | {r['test_accuracy']:.3f} |")
    return rows


def accuracy_over_time(name):
    """Test accuracy at each epoch's end against seconds of training: the bench keeps a copy of the
    checkpoint of every epoch as the run writes it, then evaluates each copy like a run of its own."""
    runs = Path(tempfile.mkdtemp(prefix="bench-time-to-accuracy-"))
    manager = JobManager(runs / "live")
    dataset, arch, hparams, training = settings(name)
    run_id = manager.submit(dataset, arch, hparams, preset=name, **training)
    copies, folder = {}, manager.store.path(run_id)
    while True:
        snap = manager.progress(run_id)
        done = len(snap["epoch_records"])
        if done and done not in copies and (folder / "last.keras").exists():
            copies[done] = runs / f"epoch-{done}.keras"
            shutil.copyfile(folder / "last.keras", copies[done])
        if snap["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    status = manager.store.status(run_id)
    epochs = manager.store.history(run_id)["epochs"]
    startup = status["train_seconds"] - sum(e["seconds"] for e in epochs)
    snapshots = RunStore(runs / "epochs")
    points, elapsed = [], startup
    for record in epochs:
        elapsed += record["seconds"]
        if record["epoch"] not in copies:
            continue
        snap_id = snapshots.create(manager.store.config(run_id))
        shutil.copyfile(copies[record["epoch"]], snapshots.path(snap_id) / "best.keras")
        write_json(snapshots.path(snap_id) / "status.json", {"status": "completed", "reason": ""})
        result = inspection.evaluate(snapshots, snap_id)
        points.append({"epoch": record["epoch"], "seconds": round(elapsed, 1), "test_accuracy": round(result["accuracy"], 4)})
    return {"preset": name, "epochs": points, "train_seconds": status["train_seconds"],
            **{f"at_{m}s": max([p["test_accuracy"] for p in points if p["seconds"] <= m], default=None) for m in MARKS},
            **{f"time_to_{t}": next((p["seconds"] for p in points if p["test_accuracy"] >= t), None) for t in TARGETS}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("estimates", "accuracy"))
    parser.add_argument("--preset", action="append", choices=list(PRESETS))
    args = parser.parse_args(argv)
    if args.what == "estimates":
        result = estimates(args.preset or list(PRESETS))
    else:
        result = [accuracy_over_time(n) for n in args.preset or ("fast", "plain_cnn_full")]
        print("| Recipe | After 30 s | After 60 s | After 120 s | To 0.45 | To 0.47 | To 0.55 |")
        print("|---|---|---|---|---|---|---|")
        for r in result:
            def cell(v, unit=""):
                return "—" if v is None else f"{v:.3f}" if not unit else f"{v:.0f} s"
            print(f"| {r['preset']} | {cell(r['at_30s'])} | {cell(r['at_60s'])} | {cell(r['at_120s'])} | "
                  f"{cell(r['time_to_0.45'], 's')} | {cell(r['time_to_0.47'], 's')} | {cell(r['time_to_0.55'], 's')} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
