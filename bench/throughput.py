"""Arithmetic throughput of a training step against this machine's peak.

    python bench/throughput.py [--json] [--train-size 1500] [--epochs 2] [--only TEXT]

For each setting, in a fresh process: the product's own model, optimizer and input pipeline
(`training.compiled_model`) on the CIFAR-10 sample (CIFAR10_PATH, the real sample by default), one
warm-up epoch, then the median epoch of `--epochs` more (training only, no validation pass).
- FLOPs per image: TensorFlow's profiler counts the forward pass's floating-point operations (a
  multiply-add is two); a training step is counted as three forward passes (the backward pass
  computes gradients for both the inputs and the weights), the usual convention.
- Achieved GFLOPS: training FLOPs per image × images per second.
- Peak: cores × clock × FMA units × SIMD lanes × 2, from /proc/cpuinfo. The number of FMA units per
  core cannot be read there: two is assumed for an AVX-512 Xeon (ports 0 and 5), one otherwise.
  bfloat16 dot products (AVX512_BF16) do twice the fp32 work per instruction.
Prints a Markdown table, then (with --json) one JSON object as the last line. Nothing is asserted.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"

# (label, arch, hparams, precision, batch size, extra): the fast network with its 3×3 stem (the fast
# preset's until 2026-12-08) and the notebooks' plain CNN in float32 and bfloat16, the fast preset's
# whitening stem, then the fast network at full width, on one thread, and with
# several steps per execution. "bfloat16" is the product's mixed_bfloat16 policy, taken whether or
# not "auto" would take it on this CPU.
SETTINGS = [
    ("fast_cnn ×0.5", "fast_cnn", {"width": 0.5}, "float32", 128, {}),
    ("fast_cnn ×0.5", "fast_cnn", {"width": 0.5}, "bfloat16", 128, {}),
    ("fast_cnn ×0.5, whitening stem", "fast_cnn", {"width": 0.5, "stem": "whiten"}, "float32", 128, {}),
    ("fast_cnn ×1", "fast_cnn", {"width": 1.0}, "float32", 128, {}),
    ("fast_cnn ×1", "fast_cnn", {"width": 1.0}, "bfloat16", 128, {}),
    ("seed_cnn", "seed_cnn", {}, "float32", 64, {}),
    ("seed_cnn", "seed_cnn", {}, "bfloat16", 64, {}),
    ("fast_cnn ×0.5, 1 thread", "fast_cnn", {"width": 0.5}, "float32", 128, {"TF_NUM_INTRAOP_THREADS": "1"}),
    ("fast_cnn ×0.5, 8 steps/execution", "fast_cnn", {"width": 0.5}, "float32", 128, {"steps_per_execution": 8}),
]


def cpu_peak():
    """(cores, GHz, fp32 GFLOPS, bf16 GFLOPS, how it was read) from /proc/cpuinfo."""
    text = Path("/proc/cpuinfo").read_text()
    flags = set(re.search(r"^flags\s*:(.*)$", text, re.M).group(1).split())
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)]
    cores = len(os.sched_getaffinity(0))
    ghz = max(mhz) / 1000
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    units = 2 if "avx512f" in flags else 1
    fp32 = cores * ghz * units * lanes * 2
    bf16 = fp32 * 2 if "avx512_bf16" in flags else None
    how = f"{cores} cores × {ghz:.2f} GHz × {units} FMA units × {lanes} fp32 lanes × 2"
    return cores, ghz, fp32, bf16, how


def forward_flops(model):
    """Floating-point operations of one image's forward pass, as TensorFlow's profiler counts them."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    graph = convert_variables_to_constants_v2(tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def measure(arch, hparams, precision, batch_size, train_size, epochs, steps_per_execution):
    """Images per second of the product's training step for these settings, in this process."""
    from cifar_core.process import configure_process
    configure_process()
    import keras

    from cifar_core.config.run_config import make_config
    from cifar_core.data.datasets import load_dataset
    from cifar_core.data.splits import split_dataset
    from cifar_core.worker import training
    from cifar_core.worker.training import compiled_model

    if precision == "bfloat16":  # what "auto" trains in where bfloat16 pays
        training.cpu_bf16_pays, precision = (lambda: True), "auto"
    config = make_config("cifar10", arch, hparams, precision=precision, batch_size=batch_size,
                         train_size=train_size, epochs=epochs + 1, augment=[], seed=1)
    ds = load_dataset("cifar10")
    split = split_dataset(ds, config["training"]["val_split"], 1, train_size)
    model, train_ds, _ = compiled_model(config, ds, split)
    if steps_per_execution > 1:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"],
                      steps_per_execution=steps_per_execution)
    seconds = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    model.fit(train_ds, epochs=epochs + 1, verbose=0, callbacks=[EpochClock()])  # the first warms up
    flops = forward_flops(model)
    images_per_second = len(split.train) / statistics.median(seconds[1:])
    return {"forward_mflops_per_image": flops / 1e6, "images_per_second": images_per_second,
            "dtype_policy": model.dtype_policy.name, "n_train": len(split.train),
            "epoch_seconds": [round(s, 2) for s in seconds]}


def run_one(setting, args):
    label, arch, hparams, precision, batch_size, extra = setting
    env = dict(os.environ, PYTHONPATH=str(ROOT), CIFAR10_PATH=os.environ.get("CIFAR10_PATH", str(SAMPLE)),
               **{k: v for k, v in extra.items() if k.startswith("TF_")})
    one = json.dumps([arch, hparams, precision, batch_size, args.train_size, args.epochs,
                      extra.get("steps_per_execution", 1)])
    proc = subprocess.run([sys.executable, __file__, "--one", one], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--train-size", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs after the warm-up epoch")
    parser.add_argument("--only", help="the settings whose label contains this text")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(*json.loads(args.one))))
        return
    cores, ghz, fp32_peak, bf16_peak, how = cpu_peak()
    rows = []
    print(f"Peak: {fp32_peak:.0f} GFLOPS fp32 ({how})"
          + (f", {bf16_peak:.0f} GFLOPS bf16" if bf16_peak else ""))
    print("| setting | precision | MFLOPs/image (forward) | images/s | achieved GFLOPS | of peak |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    chosen = [s for s in SETTINGS if args.only is None or args.only in s[0]]
    if not chosen:
        parser.error(f"no setting's label contains {args.only!r}: " + "; ".join(s[0] for s in SETTINGS))
    for setting in chosen:
        result = run_one(setting, args)
        achieved = 3 * result["forward_mflops_per_image"] * result["images_per_second"] / 1000
        peak = (bf16_peak or fp32_peak) if result["dtype_policy"] == "mixed_bfloat16" else fp32_peak
        row = {"setting": setting[0], "batch_size": setting[4], **result, "achieved_gflops": achieved,
               "share_of_peak": achieved / peak}
        rows.append(row)
        print(f"| {setting[0]} | {result['dtype_policy']} | {result['forward_mflops_per_image']:.1f} | "
              f"{result['images_per_second']:.0f} | {achieved:.1f} | {achieved / peak:.1%} |", flush=True)
    if args.json:
        print(json.dumps({"cores": cores, "ghz": ghz, "peak_fp32_gflops": fp32_peak, "peak_bf16_gflops": bf16_peak,
                          "peak_formula": how, "rows": rows}))


if __name__ == "__main__":
    main()
