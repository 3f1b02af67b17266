"""How long the embedding projector takes in the inspection worker's code: the features of 2,000
CIFAR-10 images at the layer before the classifier, then PCA and t-SNE (the page's two methods).

    python bench/projector.py [--json] [--points 2000]

Uses the real sample by default (CIFAR10_PATH): its test images, then training images to reach
`--points`, through a freshly initialised `seed_cnn` (t-SNE's time depends on the number of points
and their dimension, not on how well the network is trained). Prints a Markdown table, then one
JSON object as the last line.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "cifar-10-python-subset.tar.gz"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("CIFAR10_PATH", str(SAMPLE))
    import numpy as np

    from cifar_core.data.datasets import load_dataset
    from cifar_core.worker.models import build_model
    from cifar_core.worker.projector import penultimate_features, project
    ds = load_dataset("cifar10")
    images = np.concatenate([ds.x_test, ds.x_train])[:args.points]
    model = build_model("seed_cnn", ds.image_shape, ds.num_classes)
    timings = {"points": len(images)}
    started = time.perf_counter()
    features = penultimate_features(model, images)
    timings["features_seconds"] = round(time.perf_counter() - started, 2)
    timings["dimensions"] = int(features.shape[1])
    for method in ("pca", "tsne"):
        started = time.perf_counter()
        project(features, method)
        timings[f"{method}_seconds"] = round(time.perf_counter() - started, 2)
    print("| points | features (dimensions) | PCA | t-SNE |")
    print("| --- | --- | --- | --- |")
    print(f"| {timings['points']:,} | {timings['features_seconds']} s ({timings['dimensions']}) | "
          f"{timings['pca_seconds']} s | {timings['tsne_seconds']} s |")
    if args.json:
        print(json.dumps(timings))


if __name__ == "__main__":
    main()
