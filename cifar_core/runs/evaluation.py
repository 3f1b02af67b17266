"""What a test-set evaluation shows, derived from what is stored: the true labels, the predicted
classes and the class probabilities.

The worker stores only those arrays and a few figures (`RunStore.write_evaluation`); the confusion
matrix, its row-normalised form, the per-class report and the images of each cell are computed here
when the evaluation is read, with NumPy and scikit-learn, so the web server reads an evaluation from
the runs folder without asking a worker.
"""

import numpy as np

# scikit-learn's metrics are imported where they are used: their import (scipy, pandas) takes about
# 1.6 s, which every command line start would pay whether or not it scores a run.


def summarize(labels, probabilities):
    """{n, accuracy, loss} of class probabilities (N, classes) against the true labels."""
    from sklearn.metrics import log_loss
    labels = np.asarray(labels)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    # Rows summed in float32 by the model's softmax (or averaged over the flip) drift from 1 in the
    # last bits; scaled back so that log_loss takes them as the probabilities they are.
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    return {"n": int(len(labels)),
            "accuracy": float(np.mean(probabilities.argmax(axis=1) == labels)),
            "loss": float(log_loss(labels, probabilities, labels=np.arange(probabilities.shape[1])))}


def cell_indices(labels, predictions, num_classes):
    """cells[t][p]: the indices (ascending) of the images of true class t predicted as p."""
    codes = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predictions, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    groups = np.split(order, np.cumsum(np.bincount(codes, minlength=num_classes ** 2))[:-1])
    return [groups[t * num_classes:(t + 1) * num_classes] for t in range(num_classes)]


def class_report(labels, predictions, class_names):
    """[{class, precision, recall, f1, support}] a class, in class order."""
    from sklearn.metrics import precision_recall_fscore_support
    scores = precision_recall_fscore_support(labels, predictions, labels=np.arange(len(class_names)),
                                             zero_division=0)
    return [{"class": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(class_names, *scores)]


def derive(labels, predictions, class_names):
    """Everything the Evaluate page and `evaluate` show that follows from labels and predictions."""
    from sklearn.metrics import confusion_matrix
    classes = np.arange(len(class_names))
    return {
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes),
        # A class without test images has a row of zeros rather than NaN.
        "confusion_matrix_normalized": confusion_matrix(labels, predictions, labels=classes, normalize="true"),
        "report": class_report(labels, predictions, class_names),
        "cells": cell_indices(labels, predictions, len(class_names)),
    }


def labels_from_cells(cells, n):
    """The true labels that an evaluation stored before the arrays existed (`evaluation.json`) kept
    only inside its cells: cells[t][p] lists images of true class t."""
    labels = np.full(n, -1, dtype=np.int64)
    for true_class, row in enumerate(cells):
        for indices in row:
            labels[np.asarray(indices, dtype=np.int64)] = true_class
    if (labels < 0).any():
        raise ValueError("its cells do not cover every test image")
    return labels
