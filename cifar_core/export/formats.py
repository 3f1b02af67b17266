"""The formats a trained model is exported in (plain values: the CLI and the pages list them; the
inspection worker writes them, in `cifar_core.worker.model_export`)."""

from cifar_core.errors import ParamError

MODEL_FORMATS = {
    "onnx": {"suffix": ".onnx", "keras_format": "onnx", "title": "ONNX (ONNX Runtime, also on a web page)"},
    "tflite": {"suffix": ".tflite", "keras_format": "litert", "title": "TFLite (phones)"},
    "saved_model": {"suffix": "", "keras_format": "tf_saved_model", "title": "SavedModel (TF Serving), zipped"},
}


def check_model_format(fmt):
    if fmt not in MODEL_FORMATS:
        raise ParamError(f"Model format must be one of {', '.join(MODEL_FORMATS)}, got {fmt!r}.")
    return fmt
