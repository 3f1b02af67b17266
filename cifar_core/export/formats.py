"""The formats a trained model is exported in (plain values: the CLI and the pages list them; the
inspection worker writes them, in `cifar_core.worker.model_export`)."""

from cifar_core.errors import ParamError
from cifar_core.i18n import N_, _

MODEL_FORMATS = {
    "onnx": {"suffix": ".onnx", "keras_format": "onnx", "title": N_("ONNX (ONNX Runtime, also on a web page)")},
    "tflite": {"suffix": ".tflite", "keras_format": "litert", "title": N_("TFLite (phones)")},
    "saved_model": {"suffix": "", "keras_format": "tf_saved_model", "title": N_("SavedModel (TF Serving), zipped")},
}


def check_model_format(fmt):
    if fmt not in MODEL_FORMATS:
        raise ParamError(_("Model format must be one of {formats}, got {value}.").format(
            formats=", ".join(MODEL_FORMATS), value=repr(fmt)))
    return fmt
