"""Bytes through the Dask scheduler per epoch of a run, as the product sends them and as the old
transport did (each epoch's changed model files and snapshots inside the queued message).

    python bench/transport.py [--json] [--epochs 2] [--train-size 256]

Runs `seed_cnn` and `vgg16_transfer` (weights none: no download) on CIFAR10_PATH (the real sample
by default) through the job manager. The scheduler of the local cluster runs in this process: its
`queue_put` handler is wrapped to count `len(pickle.dumps(message))` of every queued message
("after"); for an epoch message the same is counted with its note of files replaced by bytes of the
noted sizes, the message the old Sender put ("before"). Its `gather` handler is wrapped to count
the bytes it relays to this process (the task results' `nbytes`): the final folder, and a pull
whose direct connection failed (the old code's `future.result()` gathered the final folder through
the scheduler; `final_result_bytes` is its size, from the server's copy of the folder). Prints a Markdown table, then one JSON object as the last line.
"""

import argparse
import json
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"

from cifar_core.server import cluster  # noqa: E402  (after the path)
from cifar_core.server.jobs import JobManager  # noqa: E402

RUNS = (("seed_cnn", {}), ("vgg16_transfer", {"weights": "none"}))


class SchedulerCounter:
    """Counts what the in-process scheduler relays: queued messages and gathered results."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.put, self.gather = scheduler.handlers["queue_put"], scheduler.handlers["gather"]
        self.reset()
        counter = self

        async def queue_put(name=None, key=None, data=None, **kwargs):
            counter.count_message(data)
            return await counter.put(name=name, key=key, data=data, **kwargs)

        async def gather(keys=None, **kwargs):
            tasks = counter.scheduler.tasks
            counter.gathered += sum(max(0, tasks[k].nbytes) for k in keys or () if k in tasks)
            return await counter.gather(keys=keys, **kwargs)

        scheduler.handlers["queue_put"], scheduler.handlers["gather"] = queue_put, gather

    def reset(self):
        self.queued = self.queued_before = self.gathered = self.noted = 0
        self.messages = 0

    def count_message(self, message):
        self.messages += 1
        size = len(pickle.dumps(message))
        self.queued += size
        if isinstance(message, dict) and message.get("kind") == "epoch":
            files = message["files"]
            self.noted += sum(size for size, _ in files.values())
            old = dict(message, files={name: bytes(size) for name, (size, _) in files.items()})
            self.queued_before += len(pickle.dumps(old))
            del old
        else:
            self.queued_before += size

    def close(self):
        self.scheduler.handlers["queue_put"], self.scheduler.handlers["gather"] = self.put, self.gather


def measure(manager, counter, arch, hparams, epochs, train_size):
    counter.reset()
    started = time.perf_counter()
    run_id = manager.submit("cifar10", arch, hparams, epochs=epochs, batch_size=32, train_size=train_size, seed=1)
    status = manager.wait(run_id, timeout=3600)
    if status["status"] != "completed":
        raise SystemExit(f"{arch}: {status['status']} ({status.get('reason')})")
    folder = manager.store.path(run_id)
    return {"arch": arch, "epochs": epochs, "train_size": train_size, "messages": counter.messages,
            "before_bytes_per_epoch": round(counter.queued_before / epochs),
            "after_bytes_per_epoch": round(counter.queued / epochs),
            "pulled_bytes_per_epoch": round(counter.noted / epochs),
            "final_result_bytes_through_scheduler": counter.gathered,
            # What the task returns at the end: the folder less config and status (the server wrote those).
            "final_result_bytes": sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()
                                      and f.name not in ("config.json", "status.json")),
            "checkpoint_bytes": (folder / "last.keras").stat().st_size,
            "seconds": round(time.perf_counter() - started, 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    if not os.environ.get("CIFAR10_PATH") and SAMPLE.is_file():
        os.environ["CIFAR10_PATH"] = str(SAMPLE)
    client = cluster.training_client()
    counter = SchedulerCounter(client.cluster.scheduler)
    try:
        manager = JobManager(tempfile.mkdtemp(prefix="cifar-core-bench-transport-"))
        results = [measure(manager, counter, arch, hparams, args.epochs, args.train_size) for arch, hparams in RUNS]
    finally:
        counter.close()
        cluster.close()
    print("| Architecture | Through the scheduler per epoch, before | After | Pulled from the worker per epoch |")
    print("|---|---|---|---|")
    for r in results:
        print(f"| {r['arch']} | {r['before_bytes_per_epoch']:,} B | {r['after_bytes_per_epoch']:,} B | "
              f"{r['pulled_bytes_per_epoch']:,} B |")
    if args.json:
        print(json.dumps({"transport": results}))


if __name__ == "__main__":
    main()
