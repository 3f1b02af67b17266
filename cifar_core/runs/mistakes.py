"""Where a trained network goes wrong, from its stored test-set evaluation (true labels and class
probabilities): how well its confidence matches its accuracy, its most confident mistakes (fastai's
`plot_top_losses`) and the pairs of classes it confuses most (fastai's `most_confused`).

NumPy only: the web server reads these without asking a worker.
"""

import numpy as np

RELIABILITY_BINS = 10


def reliability(labels, predictions, confidence, bins=RELIABILITY_BINS):
    """The reliability diagram's bins of the predicted class's `confidence`, equal width over [0, 1]:
    {edges, counts, accuracy, confidence (means per bin; NaN where empty), ece}.

    The expected calibration error (Guo et al., 2017) is the gap between a bin's accuracy and its
    mean confidence, averaged over the bins weighted by their images.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(predictions) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)  # (0.9, 1] is the last
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, weights=right, minlength=bins) / counts
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
    filled = counts > 0
    ece = float(np.sum(counts[filled] * np.abs(accuracy[filled] - mean_confidence[filled])) / max(1, len(labels)))
    return {"edges": edges, "counts": counts, "accuracy": accuracy, "confidence": mean_confidence, "ece": ece}


def top_losses(labels, probabilities, count=None):
    """The test images the network was most confidently wrong about, the highest loss first: a list
    of {index, loss, predicted, confidence (of the predicted class), true_probability}. Only mistakes."""
    labels, probabilities = np.asarray(labels), np.asarray(probabilities, dtype=np.float64)
    true_probability = probabilities[np.arange(len(labels)), labels]
    losses = -np.log(np.clip(true_probability, 1e-12, 1.0))  # each image's cross-entropy
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-losses[wrong], kind="stable")][:count]
    return [{"index": int(i), "loss": float(losses[i]), "predicted": int(predicted[i]),
             "confidence": float(probabilities[i, predicted[i]]), "true_probability": float(true_probability[i])}
            for i in order]


def most_confused(matrix, class_names, min_count=1):
    """Off-diagonal cells of a confusion matrix (rows true, columns predicted) with at least
    `min_count` images, the largest first: a list of (true name, predicted name, images)."""
    matrix = np.asarray(matrix)
    true, predicted = np.nonzero((matrix >= min_count) & ~np.eye(len(matrix), dtype=bool))
    order = np.lexsort((predicted, true, -matrix[true, predicted]))  # ties: in class order
    return [(class_names[true[i]], class_names[predicted[i]], int(matrix[true[i], predicted[i]])) for i in order]
