import os
import shutil

import numpy as np
import pytest

from cifar_core.cache import BoundedCache
from cifar_core.runs.store import RunStore
from cifar_core.worker import evaluation
from cifar_core.worker.evaluation import evaluate_run, load_run_model


@pytest.mark.slow
def test_evaluation_sums_shapes_and_cache(trained_run):
    store, run_id = trained_run
    shutil.rmtree(store.path(run_id) / "evaluation", ignore_errors=True)  # other tests may have evaluated it
    assert not store.has_evaluation(run_id)
    seen = []
    figures = evaluate_run(store, run_id, progress=lambda done, total: seen.append((done, total)), batch_size=100)
    assert figures["stamp"] == store.model_stamp(run_id) and store.has_evaluation(run_id)
    result = store.evaluation(run_id)  # read from the folder and derived, without the worker
    n, k = result["n"], len(result["class_names"])
    cm = result["confusion_matrix"]
    assert cm.shape == (k, k) and cm.sum() == n and seen[-1] == (n, n)
    assert result["accuracy"] == pytest.approx(np.trace(cm) / n) and result["accuracy"] > 0.3
    assert np.allclose(result["confusion_matrix_normalized"].sum(axis=1), 1.0)
    assert [len(result["cells"][t][p]) for t in range(k) for p in range(k)] == cm.ravel().tolist()
    assert sum(r["support"] for r in result["report"]) == n and 0 < result["loss"] < 10
    for t in range(k):
        for p in range(k):
            assert (result["predictions"][result["cells"][t][p]] == p).all()
    assert sum(os.path.getsize(f) for f in (store.path(run_id) / "evaluation").iterdir()) < 60_000  # 360 images
    seen.clear()
    assert evaluate_run(store, run_id, progress=lambda *a: seen.append(a)) == figures and not seen  # kept


@pytest.mark.slow
def test_the_models_cache_never_holds_more_than_its_bound(trained_run, tmp_path, monkeypatch):
    store, run_id = trained_run
    copy = RunStore(tmp_path)
    shutil.copytree(store.path(run_id), copy.path(run_id))
    monkeypatch.setattr(evaluation, "_models", BoundedCache(2))
    best = copy.path(run_id) / "best.keras"
    models = []
    for version in range(4):  # a new file version each time, as training saves a better model
        os.utime(best, ns=(10**18 + version, 10**18 + version))
        models.append(load_run_model(copy, run_id))
        assert len(evaluation._models) <= 2
    assert load_run_model(copy, run_id) is models[-1] and len({id(m) for m in models}) == 4
    assert evaluation.MAX_CACHED_MODELS == 8






















