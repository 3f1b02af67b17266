"""The exported model in its own runtimes: ONNX Runtime, TensorFlow Lite's interpreter and a
SavedModel agree with the product's predictions on the sample's test images, also for a run
trained in bfloat16 and evaluated with flip averaging."""

import io
import zipfile

import numpy as np
import pytest
from support import train_in_process

from cifar_core.config.run_config import make_config
from cifar_core.errors import ParamError, RunError
from cifar_core.runs.store import RunStore

# Trains, and converts with tf2onnx and the TFLite converter; in the process that trains `cifar_run`
# for the filters' patterns too (a session fixture is made once a process).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cifar_run")]


def agreement(predicted, store, run_id):
    return float(np.mean(np.asarray(predicted) == store.evaluation(run_id)["predictions"]))


@pytest.fixture
def bf16_run(cifar_sample, tmp_path, monkeypatch):
    """fast_cnn trained under mixed_bfloat16 ("auto" takes it where the CPU has AMX: here, patched so)
    and evaluated with flip averaging."""
    from cifar_core.worker import training
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    monkeypatch.setattr(training, "gpu_available", lambda: False)
    monkeypatch.setattr(training, "cpu_bf16_pays", lambda: True)
    store = RunStore(tmp_path / "runs")
    # A quarter of the width: emulated bfloat16 is slow on a CPU without it, and agreement needs no accuracy.
    config = make_config("cifar10", "fast_cnn", {"width": 0.25}, epochs=1, batch_size=64, train_size=400, seed=1,
                         tta=True)
    return store, train_in_process(store, config)


@pytest.mark.parametrize("run, bf16", [("cifar_run", False), ("bf16_run", True)])
def test_onnx_and_tflite_agree_with_the_product(run, bf16, cifar_sample, monkeypatch, request):
    import onnxruntime
    import tensorflow as tf

    from cifar_core.data.datasets import load_dataset
    from cifar_core.worker.evaluation import load_run_model
    from cifar_core.worker.model_export import export_model
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    store, run_id = request.getfixturevalue(run)
    convolutions = [layer for layer in load_run_model(store, run_id).layers if type(layer).__name__ == "Conv2D"]
    assert convolutions[0].dtype_policy.name == ("mixed_bfloat16" if bf16 else "float32")
    pixels = load_dataset("cifar10").x_test.astype(np.float32)  # raw 0–255, NHWC

    exported = export_model(store, run_id, "onnx")
    assert exported["filename"] == f"{run_id}.onnx"
    session = onnxruntime.InferenceSession(exported["data"], providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {session.get_inputs()[0].name: pixels})
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-3)
    assert agreement(probabilities.argmax(axis=1), store, run_id) >= 0.995

    exported = export_model(store, run_id, "tflite")
    interpreter = tf.lite.Interpreter(model_content=exported["data"])
    inputs, outputs = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inputs["dtype"] == np.float32  # no bf16 op in the graph: TFLite's built-in ops run it
    interpreter.resize_tensor_input(inputs["index"], pixels.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["index"], pixels)
    interpreter.invoke()
    assert agreement(interpreter.get_tensor(outputs["index"]).argmax(axis=1), store, run_id) >= 0.995


def test_a_saved_model_serves_and_bad_requests_are_refused(cifar_run, cifar_sample, tmp_path, monkeypatch):
    import tensorflow as tf

    from cifar_core.data.datasets import load_dataset
    from cifar_core.worker.model_export import export_model
    monkeypatch.setenv("CIFAR10_PATH", str(cifar_sample))
    store, run_id = cifar_run
    exported = export_model(store, run_id, "saved_model")
    assert export_model(store, run_id, "saved_model") is exported  # converted once per model version
    with zipfile.ZipFile(io.BytesIO(exported["data"])) as archive:
        archive.extractall(tmp_path / "served")
    served = tf.saved_model.load(str(tmp_path / "served" / run_id))
    pixels = load_dataset("cifar10").x_test[:200].astype(np.float32)
    predicted = np.asarray(served.serve(pixels)).argmax(axis=1)
    assert np.mean(predicted == store.evaluation(run_id)["predictions"][:200]) >= 0.995
    with pytest.raises(ParamError, match="must be one of onnx, tflite, saved_model"):
        export_model(store, run_id, "coreml")
    store.set_status(run_id, "running")
    try:
        with pytest.raises(RunError, match="still running: export it once it has ended"):
            export_model(store, run_id, "onnx")
    finally:
        store.set_status(run_id, "completed")  # the run is shared with other tests
