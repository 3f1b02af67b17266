"""Stored evaluations: what is derived when read, which model they are of, the older format, and
reading that writes nothing. Synthetic arrays and fake model files: nothing trains here."""

import json
import os

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix, log_loss
from support import store_evaluation, synthetic_evaluation

from cifar_core.errors import RunError
from cifar_core.runs.evaluation import cell_indices, derive, labels_from_cells, summarize
from cifar_core.runs.store import RunStore

NAMES = ["cat", "dog", "bird", "frog"]


def a_run(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create({"arch": "seed_cnn"})
    (store.path(run_id) / "best.keras").write_bytes(b"best model")
    return store, run_id


def stored(store, run_id, labels, probabilities, **extra):
    return store_evaluation(store, run_id, labels, probabilities, NAMES, **extra)


def write_old_format(folder, stamp, labels, predictions, note=True):
    """An evaluation.json as the product wrote it before the arrays (and its stamp note)."""
    cells = [[[] for _ in NAMES] for _ in NAMES]
    for index, (t, p) in enumerate(zip(labels, predictions)):
        cells[t][p].append(index)
    old = {"stamp": {"model": stamp["model"], "mtime_ns": stamp["mtime_ns"]}, "run_id": folder.name,
           "n": len(labels), "accuracy": float(np.mean(labels == predictions)), "tta": False, "loss": 0.9,
           "class_names": NAMES, "confusion_matrix": [[0]], "confusion_matrix_normalized": [[0.0]], "report": [],
           "cells": cells, "predictions": predictions.tolist(), "confidence": [0.5] * len(labels),
           "seconds": 2.0, "images_per_second": 250.0}
    (folder / "evaluation.json").write_text(json.dumps(old))
    if note:
        info = os.stat(folder / "evaluation.json")
        (folder / "evaluation.stamp.json").write_text(json.dumps(
            {"stamp": old["stamp"], "file": [info.st_ino, info.st_mtime_ns, info.st_size]}))


def listing(folder):
    """Every file under `folder` with its inode, mtime and size: any write shows."""
    return {str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*"))}


def test_the_derived_matrix_report_and_cells_are_sklearns():
    labels, probabilities = synthetic_evaluation()
    predictions = probabilities.argmax(axis=1)
    derived = derive(labels, predictions, NAMES)
    np.testing.assert_array_equal(derived["confusion_matrix"], confusion_matrix(labels, predictions))
    np.testing.assert_allclose(derived["confusion_matrix_normalized"],
                               confusion_matrix(labels, predictions, normalize="true"))
    np.testing.assert_allclose(derived["confusion_matrix_normalized"].sum(axis=1), 1.0)
    report = classification_report(labels, predictions, target_names=NAMES, output_dict=True, zero_division=0)
    for row in derived["report"]:
        expected = report[row["class"]]
        assert row["precision"] == pytest.approx(expected["precision"])
        assert row["recall"] == pytest.approx(expected["recall"])
        assert row["f1"] == pytest.approx(expected["f1-score"]) and row["support"] == expected["support"]


def test_the_cells_partition_the_test_set():
    labels, probabilities = synthetic_evaluation(n=300, seed=1)
    predictions = probabilities.argmax(axis=1)
    cells = cell_indices(labels, predictions, len(NAMES))
    everything = np.concatenate([cell for row in cells for cell in row])
    assert sorted(everything.tolist()) == list(range(len(labels)))  # each image in exactly one cell
    for t, row in enumerate(cells):
        for p, cell in enumerate(row):
            assert (labels[cell] == t).all() and (predictions[cell] == p).all()
            assert (np.diff(cell) > 0).all()  # ascending: a page of a cell is stable
    assert [len(c) for row in cells for c in row] == confusion_matrix(labels, predictions).ravel().tolist()
    np.testing.assert_array_equal(labels_from_cells(cells, len(labels)), labels)


def test_a_class_without_test_images_gives_zeros_not_nan():
    labels = np.array([0, 0, 1, 1, 1])
    predictions = np.array([0, 1, 1, 3, 1])
    derived = derive(labels, predictions, NAMES)
    assert derived["confusion_matrix_normalized"][2].tolist() == [0, 0, 0, 0]
    assert [len(c) for c in derived["cells"][2]] == [0, 0, 0, 0]
    assert derived["report"][2] == {"class": "bird", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_summarize_is_accuracy_and_sklearns_log_loss():
    labels, probabilities = synthetic_evaluation(seed=2)
    figures = summarize(labels, probabilities)
    assert figures["n"] == len(labels)
    assert figures["accuracy"] == pytest.approx(np.mean(probabilities.argmax(axis=1) == labels))
    assert figures["loss"] == pytest.approx(-np.log(probabilities[np.arange(len(labels)), labels]).mean(), rel=1e-5)
    exact = probabilities.astype(np.float64)
    assert figures["loss"] == pytest.approx(log_loss(labels, exact / exact.sum(axis=1, keepdims=True)), rel=1e-5)


def test_an_evaluation_is_small_figures_and_arrays(tmp_path):
    store, run_id = a_run(tmp_path)
    labels, probabilities = synthetic_evaluation(n=10_000, classes=4)
    figures = stored(store, run_id, labels, probabilities)
    folder = store.path(run_id) / "evaluation"
    assert sorted(p.name for p in folder.iterdir()) == ["labels.npy", "metrics.json", "predictions.npy",
                                                          "probabilities.npy"]
    assert (folder / "metrics.json").stat().st_size < 2_000
    np.testing.assert_array_equal(np.load(folder / "predictions.npy"), probabilities.argmax(axis=1))
    result = store.evaluation(run_id)
    assert result["accuracy"] == figures["accuracy"] and result["class_names"] == NAMES
    np.testing.assert_array_equal(result["confusion_matrix"], confusion_matrix(labels, probabilities.argmax(axis=1)))
    np.testing.assert_allclose(result["confidence"], probabilities.max(axis=1))
    assert store.evaluation_figures(run_id) == figures and store.has_evaluation(run_id)


def test_the_store_keeps_evaluations_per_model_version(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create({"arch": "seed_cnn"})
    with pytest.raises(RunError, match="has no saved model yet"):
        store.model_stamp(run_id)
    assert not store.has_evaluation(run_id)
    (store.path(run_id) / "last.keras").write_bytes(b"last")
    assert store.model_stamp(run_id)["model"] == "last.keras"  # no best model: the last one
    best = store.path(run_id) / "best.keras"
    best.write_bytes(b"best")
    stamp = store.model_stamp(run_id)
    assert stamp == {"model": "best.keras", "mtime_ns": best.stat().st_mtime_ns, "size": 4}
    assert store.evaluation(run_id, stamp) is None and not store.has_evaluation(run_id)
    stored(store, run_id, *synthetic_evaluation(n=50))
    assert store.has_evaluation(run_id) and store.evaluation(run_id, stamp) is not None
    assert not store.has_evaluation(run_id, store.model_stamp(run_id, "last"))  # of the best model only
    os.utime(best, ns=(stamp["mtime_ns"] + 10**9,) * 2)  # training saved a better model
    assert store.evaluation(run_id, stamp) is not None  # asked for by the stamp it was written with
    assert store.evaluation(run_id) is None and store.evaluation_figures(run_id) is None
    assert not store.has_evaluation(run_id)
    with pytest.raises(RunError, match="evaluate it again"):
        store.require_evaluation(run_id, store.model_stamp(run_id))


def test_reading_an_evaluation_writes_nothing(tmp_path):
    store, run_id = a_run(tmp_path)
    folder = store.path(run_id)

    def read_everything():
        before = listing(folder)
        answers = (store.has_evaluation(run_id), store.evaluation_figures(run_id) is not None,
                   store.evaluation(run_id) is not None)
        assert listing(folder) == before
        return answers

    assert read_everything() == (False, False, False)
    labels, probabilities = synthetic_evaluation(n=40)
    write_old_format(folder, store.model_stamp(run_id), labels, probabilities.argmax(axis=1), note=False)
    assert read_everything() == (True, True, True)  # the older format without its note is not given one
    (folder / "evaluation.json").unlink()
    stored(store, run_id, labels, probabilities)
    assert read_everything() == (True, True, True)


def test_a_folder_evaluated_by_the_older_product_still_opens(tmp_path):
    store, run_id = a_run(tmp_path)
    folder = store.path(run_id)
    labels, probabilities = synthetic_evaluation(n=200, seed=3)
    predictions = probabilities.argmax(axis=1)
    write_old_format(folder, store.model_stamp(run_id), labels, predictions)
    assert store.has_evaluation(run_id)
    result = store.evaluation(run_id)
    expected = derive(labels, predictions, NAMES)
    np.testing.assert_array_equal(result["confusion_matrix"], expected["confusion_matrix"])
    assert result["report"] == expected["report"] and result["loss"] == 0.9 and result["n"] == 200
    assert [[c.tolist() for c in row] for row in result["cells"]] == [[c.tolist() for c in row]
                                                                      for row in expected["cells"]]
    assert store.evaluation_figures(run_id)["images_per_second"] == 250.0
    # Its note describing another file (a copied folder): the file itself is read, still nothing written.
    note = json.loads((folder / "evaluation.stamp.json").read_text())
    (folder / "evaluation.stamp.json").write_text(json.dumps({**note, "file": [1, 2, 3]}))
    assert store.has_evaluation(run_id)
    (folder / "evaluation.json").write_text("{not json")  # damaged: as good as none
    assert not store.has_evaluation(run_id) and store.evaluation(run_id) is None
    # The next evaluation replaces the older format's megabytes.
    stored(store, run_id, labels, probabilities)
    assert not (folder / "evaluation.json").exists() and not (folder / "evaluation.stamp.json").exists()
    assert store.has_evaluation(run_id) and store.evaluation(run_id)["loss"] == pytest.approx(
        summarize(labels, probabilities)["loss"])


def test_figures_never_pair_with_a_racing_writers_arrays(tmp_path):
    store, run_id = a_run(tmp_path)
    metrics = store.path(run_id) / "evaluation" / "metrics.json"
    stored(store, run_id, *synthetic_evaluation(n=60, seed=4))
    first = metrics.read_bytes()
    stored(store, run_id, *synthetic_evaluation(n=60, seed=5))  # another writer's arrays, then its figures
    metrics.write_bytes(first)  # ... and the first writer's figures renamed over them last
    assert not store.has_evaluation(run_id) and store.evaluation(run_id) is None
    (store.path(run_id) / "evaluation" / "predictions.npy").unlink()
    assert not store.has_evaluation(run_id) and store.evaluation(run_id) is None
    for damaged in ("{not json", "[1, 2]", json.dumps({**json.loads(first), "files": [1, 2]})):
        metrics.write_text(damaged)  # as good as none: evaluating again replaces it
        assert not store.has_evaluation(run_id) and store.evaluation(run_id) is None
