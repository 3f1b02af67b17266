import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from cifar_core.cache import BoundedCache
from cifar_core.data.images import normalize_channel, tile_channels, to_model_image
from cifar_core.errors import ImageError
from cifar_core.runs.store import RunStore
from cifar_core.worker import evaluation
from cifar_core.worker.evaluation import evaluate_run, load_run_model
from cifar_core.worker.inspection import (
    feature_layers,
    feature_maps,
    first_conv_filters,
    fresh_model,
    predict_image,
    weight_histogram,
    weight_layers,
)


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


@pytest.mark.slow
def test_feature_maps_and_tiles(trained_run):
    store, run_id = trained_run
    model = load_run_model(store, run_id)
    assert load_run_model(store, run_id) is model  # cached per file version
    image = np.random.default_rng(0).integers(0, 256, (8, 8, 1), dtype=np.uint8)
    maps = feature_maps(model, image)
    assert [m["name"] for m in maps] == feature_layers(model)
    assert maps[0]["name"] == "block1_conv1" and maps[0]["shape"] == (8, 8, 32)
    grid = tile_channels(maps[0]["values"])
    assert grid.shape == (6 * 9 - 1, 6 * 9 - 1)
    chosen = feature_maps(model, image, ["block2_pool"])
    assert len(chosen) == 1 and chosen[0]["shape"] == (2, 2, 64)


def test_constant_channel_does_not_divide_by_zero():
    values = np.zeros((4, 4, 3), np.float32)
    values[..., 1] = np.arange(16).reshape(4, 4)
    grid = tile_channels(values, columns=3)
    assert grid.shape == (4, 14) and (grid[:, :4] == 128).all()
    assert normalize_channel(np.full((2, 2), 7.0)).tolist() == [[128, 128], [128, 128]]


@pytest.mark.slow
def test_filters_and_weight_histograms(trained_run):
    store, run_id = trained_run
    model = load_run_model(store, run_id)
    filters = first_conv_filters(model)
    assert filters.shape == (32, 3, 3, 1) and filters.dtype == np.uint8 and filters.max() == 255
    assert weight_layers(model)[0] == "block1_conv1" and weight_layers(model)[-1] == "predictions"
    hist = weight_histogram(model, fresh_model(store.config(run_id)), "block1_conv1", bins=20)
    assert len(hist["edges"]) == 21 and hist["trained"].sum() == hist["initial"].sum() == 3 * 3 * 32


def _png(mode, size=(40, 30), fmt="PNG", **save):
    buf = io.BytesIO()
    colour = {"L": 128, "P": 3, "1": 1, "I;16": 500}.get(mode, (200, 30, 40, 128)[:len(mode)])
    Image.new(mode, size, colour).save(buf, format=fmt, **save)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "CMYK"])
@pytest.mark.parametrize("shape", [(32, 32, 3), (8, 8, 1)])
def test_every_mode_converts(mode, shape):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    array = to_model_image(_png(mode, fmt=fmt), shape)
    assert array.shape == shape and array.dtype == np.uint8


def test_transparency_goes_on_white_and_arrays_work():
    clear = to_model_image(_png("RGBA", size=(10, 10)), (4, 4, 3))
    assert clear.min() > 100
    assert to_model_image(np.zeros((50, 60, 3), np.uint8), (32, 32, 3)).shape == (32, 32, 3)
    assert to_model_image(np.zeros((50, 60), np.float64), (8, 8, 1)).shape == (8, 8, 1)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("P", (16, 16), i) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    assert to_model_image(buf.getvalue(), (32, 32, 3)).shape == (32, 32, 3)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"just some text, not an image", "not an image"),
])
def test_bad_files_are_refused(data, message):
    with pytest.raises(ImageError, match=message):
        to_model_image(data, (32, 32, 3))


def test_truncated_jpeg_is_refused():
    data = _png("RGB", size=(200, 200), fmt="JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        to_model_image(data[: len(data) // 2], (32, 32, 3))


def test_decompression_bomb_is_refused():
    # A 20000×20000 PNG: tiny on disk, 1.2 GB decoded. Refused from its header alone.
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, format="PNG")
    assert len(buf.getvalue()) < 2_000_000
    with pytest.raises(ImageError, match="too large"):
        to_model_image(buf.getvalue(), (32, 32, 3))


@pytest.mark.slow
def test_predict_image_top_k(trained_run):
    store, run_id = trained_run
    model = load_run_model(store, run_id)
    names = store.config(run_id)["class_names"]
    top = predict_image(model, to_model_image(_png("RGB"), (8, 8, 1)), names, top_k=5)
    probs = [p for _, p in top]
    assert len(top) == 5 and probs == sorted(probs, reverse=True) and all(n in names for n, _ in top)
