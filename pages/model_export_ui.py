"""Evaluate's "Use the model elsewhere": the run's best model for ONNX Runtime (also on a web page),
TFLite (phones) or TF Serving, converted by the inspection worker when asked."""

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.export.formats import MODEL_FORMATS
from cifar_core.server import inspection
from pages.shared import KEEP, show_error, store


@st.cache_data(show_spinner=False, max_entries=2)  # a few MB each: the last two conversions
def exported_model(directory, run_id, fmt, model_file, mtime_ns):
    """The converted file of one model version (the version is in the key)."""
    return inspection.export_model(store(), run_id, fmt)


def model_export_ui(run_id, stamp):
    """Choose a format, convert once, download; `stamp` names the model version evaluated."""
    with st.expander("Use the model elsewhere: ONNX, TFLite, SavedModel", icon=":material/deployed_code:"):
        st.caption("The best model in float32, for another runtime: it takes raw pixels (float32, 0–255, "
                   "height × width × channels) and returns the class probabilities; the standardisation is "
                   "inside. The README shows how to use each on a web page, a phone and TF Serving.")
        fmt = st.radio("Format", list(MODEL_FORMATS), key="eval_export_format", persist_state=KEEP,
                       horizontal=True, format_func=lambda f: MODEL_FORMATS[f]["title"])
        version = (run_id, fmt, stamp["model"], stamp["mtime_ns"])
        if st.button("Convert", key="eval_export_convert", icon=":material/build:"):
            try:
                with st.spinner(f"Converting to {fmt} in the inspection worker …"):
                    exported_model(str(store().root), *version)
                st.session_state["eval_export_ready"] = version
            except CoreError as exc:
                show_error(exc)
        if st.session_state.get("eval_export_ready") == version:
            exported = exported_model(str(store().root), *version)
            st.download_button(f"Download {exported['filename']} ({len(exported['data']) / 1e6:.1f} MB)",
                               exported["data"], file_name=exported["filename"], on_click="ignore",
                               mime="application/octet-stream", key="eval_export_download", icon=":material/download:")
