"""Evaluate's "Use the model elsewhere": the run's best model for ONNX Runtime (also on a web page),
TFLite (phones) or TF Serving, converted by the inspection worker when asked (it keeps the last few
conversions, so the download fetches the file only when it is clicked)."""

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.export.formats import MODEL_FORMATS
from cifar_core.i18n import _
from cifar_core.server import inspection
from pages.shared import KEEP, show_error, store


def format_title(fmt):
    """A format's title in the reader's language (cifar_core/export/formats.py defines the titles)."""
    title = MODEL_FORMATS[fmt]["title"]
    return _(title)


def model_export_ui(run_id, stamp):
    """Choose a format, convert, download; `stamp` names the model version evaluated."""
    with st.expander(_("Use the model elsewhere: ONNX, TFLite, SavedModel"), icon=":material/deployed_code:"):
        st.caption(_("The best model in float32, for another runtime: it takes raw pixels (float32, 0–255, "
                     "height × width × channels) and returns the class probabilities; the standardisation is "
                     "inside. The README shows how to use each on a web page, a phone and TF Serving."))
        fmt = st.radio(_("Format"), list(MODEL_FORMATS), key="eval_export_format", persist_state=KEEP,
                       horizontal=True, format_func=format_title)
        version = [run_id, fmt, stamp["model"], stamp["mtime_ns"]]
        if st.button(_("Convert"), key="eval_export_convert", icon=":material/build:"):
            try:
                with st.spinner(_("Converting to {format} in the inspection worker …").format(format=fmt)):
                    exported = inspection.export_model(store(), run_id, fmt)
                st.session_state["eval_export_ready"] = [*version, exported["filename"], len(exported["data"])]
            except CoreError as exc:
                show_error(exc)
        ready = st.session_state.get("eval_export_ready")
        if ready and ready[:4] == version:
            filename, size = ready[4:]

            def converted():  # on click: from the worker's cache, or converted again if it fell out
                try:
                    return inspection.export_model(store(), run_id, fmt)["data"]
                except CoreError:  # the run went meanwhile: an empty file rather than a traceback
                    return b""
            st.download_button(_("Download {filename} ({size} MB)").format(filename=filename, size=f"{size / 1e6:.1f}"),
                               converted, file_name=filename,
                               on_click="ignore", mime="application/octet-stream", key="eval_export_download",
                               icon=":material/download:")
