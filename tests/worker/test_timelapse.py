"""The feature-map time-lapse: recorded by real runs, in 8 bits, within its budget."""

import time

import numpy as np
import pytest

from cifar_core.errors import CoreError
from cifar_core.runs import timelapse
from cifar_core.server.jobs import JobManager


@pytest.mark.slow
def test_a_run_records_every_epoch_and_the_filters_match_its_model(trained_run):
    from cifar_core.worker.evaluation import load_run_model
    from cifar_core.worker.inspection import cam_layers, first_conv_filters
    store, run_id = trained_run  # digits, seed_cnn, 2 epochs: snapshots shipped to the server's folder
    folder = store.path(run_id)
    assert timelapse.recorded_epochs(folder) == [0, 1, 2]  # 0: the weights before training
    probe = timelapse.read_probe(folder)
    labels = store.config(run_id)["class_names"]
    assert len(probe["indices"]) == timelapse.PROBE_IMAGES
    model = load_run_model(store, run_id, "last")
    names = cam_layers(model)
    assert probe["layers"] == {"first": names[0], "deeper": names[len(names) // 2]}
    from cifar_core.data.datasets import load_dataset
    y_test = load_dataset("digits").y_test
    assert len({int(y_test[i]) for i in probe["indices"]}) == min(len(labels), timelapse.PROBE_IMAGES)
    last = timelapse.read_snapshot(folder, 2)
    assert np.array_equal(last["filters"], first_conv_filters(model))  # epoch 2's filters, in 8 bits
    assert not np.array_equal(timelapse.read_snapshot(folder, 0)["filters"], last["filters"])
    maps, ranges = last["first_maps"], last["first_ranges"]
    assert maps.dtype == np.uint8 and maps.shape[0] == timelapse.PROBE_IMAGES and maps.shape[-1] <= 16
    assert ranges.shape == (maps.shape[-1], 2) and np.all(ranges[:, 0] <= ranges[:, 1])
    assert last["deeper_maps"].dtype == np.uint8
    assert timelapse.folder_bytes(folder) <= timelapse.BUDGET_BYTES


@pytest.mark.slow
def test_each_epochs_validation_matrix_matches_its_history_and_the_probe_cams_its_model(trained_run):
    from cifar_core.data.datasets import load_dataset
    from cifar_core.data.splits import split_dataset
    from cifar_core.worker.evaluation import load_run_model
    from cifar_core.worker.inspection import grad_cam
    store, run_id = trained_run
    folder, config = store.path(run_id), store.config(run_id)
    ds = load_dataset("digits")
    split = split_dataset(ds, config["training"]["val_split"], config["training"]["seed"],
                          config["training"]["train_size"])
    validation = timelapse.read_validation(folder)
    assert np.array_equal(validation["rows"], split.val)
    assert np.array_equal(validation["labels"], ds.y_train[split.val])
    summaries = timelapse.epoch_summaries(folder, ds.num_classes)
    assert [s["epoch"] for s in summaries] == [0, 1, 2]
    history = {r["epoch"]: r["val_accuracy"] for r in store.history(run_id)["epochs"]}
    for summary in summaries[1:]:  # the matrix recorded after each epoch gives Keras's val_accuracy
        assert abs(summary["val_accuracy"] - history[summary["epoch"]]) <= 0.002, (summary["epoch"], history)
        assert np.sum(summary["val_confusion_matrix"]) == len(split.val)
    predicted, confidence = timelapse.epoch_predictions(folder, 2)
    assert predicted.dtype == np.uint8 and confidence.dtype == np.float16 and np.all(confidence <= 1)
    with pytest.raises(CoreError, match=r"Epoch 3 was not recorded.*0 to 2"):
        timelapse.epoch_predictions(folder, 3)

    snapshot, probe = timelapse.read_snapshot(folder, 2), timelapse.read_probe(folder)
    cams, classes = snapshot["cam"], snapshot["cam_classes"]
    assert cams.dtype == np.uint8 and cams.shape[:2] == (timelapse.PROBE_IMAGES, 2)
    assert np.array_equal(classes[:, 0], ds.y_test[probe["indices"]])  # the true class, then the predicted
    model = load_run_model(store, run_id, "last")  # the weights after epoch 2
    first = probe["indices"][0]
    wanted = grad_cam(model, ds.x_test[first], [int(classes[0, 0])], probe["cam_layer"])["heatmaps"]
    assert np.abs(cams[0, 0] / 255 - wanted[int(classes[0, 0])]).max() <= 0.02


def test_quantised_maps_keep_each_channel_range():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(8, 32, 32, 40)).astype(np.float32)
    quantised, ranges = timelapse.quantise_maps(values)
    assert quantised.shape == (8, 16, 16, 16)  # pooled 2×2, the first 16 channels
    pooled = values[..., :16].reshape(8, 16, 2, 16, 2, 16).mean(axis=(2, 4))
    restored = ranges[:, 0] + quantised / 255 * (ranges[:, 1] - ranges[:, 0])
    assert np.abs(restored - pooled).max() <= (ranges[:, 1] - ranges[:, 0]).max() / 255


@pytest.mark.slow
def test_a_long_run_thins_its_snapshots_to_the_budget():
    per_epoch = 300_000
    kept = timelapse.epochs_to_record(500, per_epoch)
    assert kept[0] == 0 and kept[-1] == 500
    assert len(kept) * per_epoch <= timelapse.BUDGET_BYTES + per_epoch  # the last one may be extra
    assert timelapse.epochs_to_record(5, per_epoch) == [0, 1, 2, 3, 4, 5]


def test_the_probe_takes_one_image_per_class_first():
    labels = np.array([2, 2, 0, 1, 0, 2, 1, 1])
    assert timelapse.probe_indices(labels, 5) == [2, 3, 0, 4, 6]


@pytest.mark.slow
def test_snapshots_reach_the_server_while_the_run_trains(tmp_path):
    manager = JobManager(tmp_path)
    run_id = manager.submit("digits", "seed_cnn", epochs=60, batch_size=32, train_size=200, seed=2)
    try:
        for _ in range(600):
            epochs = timelapse.recorded_epochs(manager.store.path(run_id))
            if len(epochs) >= 3 or manager.store.status(run_id)["status"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        assert manager.store.status(run_id)["status"] == "running" and epochs[:3] == [0, 1, 2], epochs
    finally:
        manager.stop(run_id)
        manager.wait(run_id, timeout=120)
