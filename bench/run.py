"""Benchmarks: training throughput against the notebooks' way, peak memory, and dashboard answers.

    python bench/run.py --quick --json     # about 4 minutes on 2 cores; last line is one JSON object
    python bench/run.py                    # more pairs and images

Each measurement runs in a fresh subprocess, so imports and caches of one never help another.
Benchmarks are not tests: nothing here asserts a timing.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"
WORKER = Path(__file__).with_name("workers.py")


def run_worker(name, *args, env=None, timeout=900):
    """Run one measurement in a fresh Python process; it prints one JSON object as its last line."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))  # workers configure their process
    proc = subprocess.run([sys.executable, str(WORKER), name, *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def throughput(data_env, pairs, train_size, log):
    """Alternate product (A) and notebook (B) runs; images per second of the median epoch after the
    first, training and validation included for both."""
    product, notebook = [], []
    for i in range(pairs):
        a = run_worker("train_product", train_size, env=data_env)
        b = run_worker("train_notebook", train_size, env=data_env)
        product.append(a["images_per_second"])
        notebook.append(b["images_per_second"])
        log(f"pair {i + 1}/{pairs}: product {a['images_per_second']:.0f} img/s, "
            f"notebook {b['images_per_second']:.0f} img/s")
    return product, notebook


def cold_start():
    """Seconds from `streamlit run app.py` until the server answers and serves the first page."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as runs:
        env = dict(os.environ, CIFAR_CORE_RUNS=runs)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}"
            while time.perf_counter() - started < 120:
                try:
                    with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(0.05)
            with urllib.request.urlopen(url + "/", timeout=10) as r:
                assert b"<html" in r.read().lower()
            served = time.perf_counter() - started
            rendered = first_render(url) if Path("/usr/bin/chromium").exists() else None
            return served, (None if rendered is None else served + rendered)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def first_render(url):
    """Seconds for a browser to show the Home page's heading (the first script run included)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"])
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name="Convolutional networks on CIFAR-10").wait_for(timeout=60_000)
        seconds = time.perf_counter() - started
        browser.close()
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 pairs on a small subset (CI keeps it working)")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--pairs", type=int, help="A/B pairs for the throughput comparison")
    args = parser.parse_args(argv)
    pairs = args.pairs or (3 if args.quick else 5)
    train_size = 800 if args.quick else 3200

    def log(message):
        print(message, file=sys.stderr if args.json else sys.stdout, flush=True)

    results = {"quick": args.quick, "pairs": pairs, "train_size": train_size, "cores": os.cpu_count(),
               "cpu": cpu_model(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        if SAMPLE.is_file():
            data_env, results["data"] = {"CIFAR10_PATH": str(SAMPLE)}, "real CIFAR-10 sample"
        else:
            path = run_worker("write_synthetic", tmp, 1000, 1000)["path"]
            data_env, results["data"] = {"CIFAR10_PATH": path}, "synthetic uint8 images of CIFAR-10's shape"
        log(f"throughput: seed_cnn, batch 32, Adam 1e-4, {train_size} images, {pairs} pairs ({results['data']})")
        product, notebook = throughput(data_env, pairs, train_size, log)
        results.update(train_images_per_second=round(median(product), 1),
                       notebook_images_per_second=round(median(notebook), 1),
                       throughput_ratio=round(median(product) / median(notebook), 3),
                       train_samples=product, notebook_samples=notebook)

        log("peak memory: full-size CIFAR-10 (50,000 + 10,000 synthetic images), one short epoch")
        full = run_worker("write_synthetic", tmp, 10_000, 10_000)["path"]
        mem_env = {"CIFAR10_PATH": full}
        results["peak_rss_mb"] = run_worker("memory_product", env=mem_env)["peak_rss_mb"]
        results["notebook_peak_rss_mb"] = run_worker("memory_notebook", env=mem_env)["peak_rss_mb"]
        log(f"  product {results['peak_rss_mb']:.0f} MB, notebook {results['notebook_peak_rss_mb']:.0f} MB")

        log("dashboard answers")
        results["data_page_seconds"] = run_worker("data_page", env=data_env)["seconds"]
        answers = run_worker("model_answers", env=data_env)
        results["feature_maps_seconds"] = answers["feature_maps_seconds"]
        results["eval_images_per_second"] = answers["eval_images_per_second"]
        results["cold_start_seconds"], results["cold_start_render_seconds"] = cold_start()
        # Where TensorFlow sees a GPU, every figure above was measured on it, the product with its
        # default mixed precision and the notebook way without.
        results["gpu"] = run_worker("gpu_check")["gpu"]
    for key in ("data_page_seconds", "feature_maps_seconds", "eval_images_per_second", "cold_start_seconds",
                "cold_start_render_seconds"):
        log(f"{key}: {results[key]}")
    log(f"throughput ratio (product / notebook): {results['throughput_ratio']}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
