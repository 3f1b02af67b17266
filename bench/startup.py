"""Where a command-line training's time goes besides training: the phases of
`python -m cifar_core train`, read from the run's own timestamps.

    python bench/startup.py [--json] [--repeats 3] [--preset fast] [--epochs N] [--train-size N]

Each repeat runs the bare command in a fresh process on CIFAR10_PATH (the real sample by default),
in a runs folder of its own (without --epochs and --train-size, the preset's own, fitted to its
time budget as a user's command is), and splits its wall time with the run's `status.json`:
- to the run's folder: the process starts, imports the product, fits the preset, and starts the
  local cluster with its worker process (`created`);
- to training: the worker imports TensorFlow (its warm-up), loads the data and builds the model,
  and its first message reaches the server (`started`);
- training: `started` to `ended`;
- exit: the cluster shuts down and the process ends.
"Overhead" is the wall time beyond `train_seconds`. The worker's clock for `train_seconds` starts
before it loads the data and builds the model, so the overhead is a few tenths of a second less than
the other phases together. The first repeat may find no stored timings; the later ones reuse what
it stored. Prints a Markdown table, then (with --json) one JSON object as the last line.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
PHASES = ("to_run_folder", "to_training", "training", "exit", "overhead")


def one_run(runs, args):
    started = time.time()
    flags = [arg for flag, value in (("--epochs", args.epochs), ("--train-size", args.train_size)) if value
             for arg in (flag, str(value))]
    done = subprocess.run([sys.executable, "-m", "cifar_core", "train", "--dataset", "cifar10", "--preset", args.preset,
                           "--seed", "1", *flags, "--runs-dir", str(runs), "--json"], cwd=ROOT, capture_output=True,
                          text=True)
    ended = time.time()
    if done.returncode != 0:
        raise SystemExit(f"the training command failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    status = json.loads((Path(result["run_dir"]) / "status.json").read_text())
    return {"to_run_folder": status["created"] - started, "to_training": status["started"] - status["created"],
            "training": status["ended"] - status["started"], "exit": ended - status["ended"],
            "overhead": ended - started - status["train_seconds"], "train_seconds": status["train_seconds"],
            "wall": ended - started}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-size", type=int)
    args = parser.parse_args()
    os.environ.setdefault("CIFAR10_PATH", str(SAMPLE))
    with tempfile.TemporaryDirectory(prefix="cifar-core-startup-") as scratch:
        # Its own timings file: the first repeat starts as on a machine never measured.
        os.environ["CIFAR_CORE_TIMINGS"] = str(Path(scratch) / "timings.json")
        rows = [one_run(Path(scratch) / f"runs-{i}", args) for i in range(args.repeats)]
    print("| repeat | to the run's folder | to training | training | exit | overhead | wall |")
    print("|---|---|---|---|---|---|---|")
    for i, row in enumerate(rows, 1):
        print(f"| {i} | {row['to_run_folder']:.1f} s | {row['to_training']:.1f} s | {row['training']:.1f} s | "
              f"{row['exit']:.1f} s | {row['overhead']:.1f} s | {row['wall']:.1f} s |")
    later = rows[1:] or rows
    summary = {"preset": args.preset, "epochs": args.epochs, "train_size": args.train_size, "repeats": rows,
               "first_overhead": round(rows[0]["overhead"], 2),
               "median_later_overhead": round(statistics.median(r["overhead"] for r in later), 2),
               **{f"median_{phase}": round(statistics.median(r[phase] for r in later), 2) for phase in PHASES}}
    print(json.dumps(summary) if args.json else f"overhead: first {summary['first_overhead']} s, "
          f"then a median of {summary['median_later_overhead']} s")


if __name__ == "__main__":
    main()
