"""The embedding projector (as TensorBoard's): the test images' features at the layer before the
classifier, projected to 2-D with PCA or t-SNE (scikit-learn), in the inspection worker and cached
per model file.

UMAP is left out: `umap-learn` brings numba, llvmlite and pynndescent (64 MB of wheels, llvmlite
60 MB of them) and compiles with numba on first use, for a view that t-SNE already gives on 2,000
points in about 5 s here (docs/benchmarks.md).
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from cifar_core.cache import BoundedCache
from cifar_core.data.splits import sample_indices
from cifar_core.errors import ParamError, RunError
from cifar_core.i18n import _
from cifar_core.worker.inspection import classifier_input_model

METHODS = ("pca", "tsne")
MAX_POINTS = 2000
_projections = BoundedCache(8)  # (model file, version, method) -> projection


def penultimate_features(model, images, batch_size=256):
    """The input of the softmax layer for each uint8 image (N, H, W, C): float32 (N, features)."""
    features_of = classifier_input_model(model)
    return np.asarray(features_of.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0),
                      np.float32).reshape(len(images), -1)


def project(features, method, seed=0):
    """2-D coordinates of the rows of `features`: PCA, or t-SNE started from the PCA (stable, and
    faster to converge)."""
    if method not in METHODS:
        raise ParamError(_("Projection must be one of {methods}, got {value}.").format(
            methods=", ".join(METHODS), value=repr(method)))
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(features).astype(np.float32)
    perplexity = min(30.0, max(2.0, (len(features) - 1) / 3))
    return TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed,
                max_iter=750).fit_transform(features).astype(np.float32)


def projection(model, model_key, images, method):
    """{indices (of the test images shown, at most MAX_POINTS), xy (float32 (n, 2)), predicted}, made
    once per model version (`model_key`) and method."""
    def make():
        indices = np.sort(sample_indices(np.arange(len(images)), MAX_POINTS, 0))
        features = penultimate_features(model, images[indices])
        if not np.isfinite(features).all():
            raise RunError(_("This model's weights are not finite (its training diverged): there is nothing "
                             "to project."))
        head = model.layers[-1]
        logits = features @ np.asarray(head.kernel, np.float32) + np.asarray(head.bias, np.float32)
        return {"indices": indices, "xy": project(features, method), "predicted": logits.argmax(axis=1)}
    return _projections.get_or_create((*model_key, method), make)
