"""Feature maps' "What a filter looks for": for a chosen convolution, the input that excites each of
its first 16 filters most (gradient ascent in the inspection worker), beside the test images that
excite it most."""

import streamlit as st

from cifar_core.data.images import enlarge, tile_images
from cifar_core.errors import CoreError
from cifar_core.i18n import _, ngettext
from cifar_core.server import inspection
from pages.shared import KEEP, keep_valid, show_error, store

COLUMNS = 4  # filters a row: each with its pattern and its strip of test images
PATTERN_PIXELS = 112


@st.fragment
def filter_patterns_ui(run_id, layers, ds):
    """The section; `layers` are the model's convolutions (their activated outputs), input first."""
    st.header(_("What a filter looks for"))
    st.caption(_("Start from grey noise and change the pixels, step by step, in the direction that makes one "
                 "filter respond more (gradient ascent, with a little jitter and blur so that the pattern stays "
                 "readable). Early filters want colours and edges; deeper ones, textures and parts. Beside each "
                 "pattern: the test images that excite that filter most."))
    if not layers:
        st.info(_("This network has no convolution."), icon=":material/info:")
        return
    keep_valid("fm_pattern_layer", layers, layers[-1])
    layer = st.selectbox(_("Convolution"), layers, key="fm_pattern_layer", persist_state=KEEP,
                         help=_("The last one sees whole objects; the first, colours and edges"))
    # Seconds of the inspection worker's CPU, beside a class's trainings: only when asked, then for
    # every layer chosen on this run.
    if st.session_state.get("fm_patterns_run") != run_id:
        if not st.button(_("Show what they look for"), key="fm_pattern_show", icon=":material/auto_awesome:"):
            st.caption(_("A few seconds of work for the inspection worker, once per model and layer."))
            return
        st.session_state["fm_patterns_run"] = run_id
    try:
        with st.spinner(_("Finding what the filters of {layer} look for …").format(layer=layer)):
            found = inspection.filter_patterns(store(), run_id, layer)
    except CoreError as exc:
        show_error(exc)
        return
    for row in range(0, len(found["filters"]), COLUMNS):
        for col, k in zip(st.columns(COLUMNS), range(row, min(row + COLUMNS, len(found["filters"])))):
            pattern = found["patterns"][k]
            top = found["top_images"][k]
            col.image(enlarge(pattern, size=(PATTERN_PIXELS, PATTERN_PIXELS)), width=PATTERN_PIXELS,
                      caption=_("Filter {filter}").format(filter=found["filters"][k]),
                      alt=_("The input pattern that excites filter {filter} of {layer} most").format(
                          filter=found["filters"][k], layer=layer))
            strip = tile_images(ds.x_test[top], columns=len(top), pad=1)
            col.image(enlarge(strip, scale=max(1, PATTERN_PIXELS // strip.shape[0] // 2)), width="stretch",
                      alt=ngettext("The {count} test image that excites filter {filter} of {layer} most: {images}",
                                   "The {count} test images that excite filter {filter} of {layer} most: {images}",
                                   len(top)).format(count=len(top), filter=found["filters"][k], layer=layer,
                                                    images="#" + ", #".join(str(int(i)) for i in top)))
    count = len(found["filters"])
    st.caption(ngettext("The first {count} filter of {layer}. A flat, featureless pattern belongs to a "
                        "filter that never responds (it died in training).",
                        "The first {count} filters of {layer}. A flat, featureless pattern belongs to a "
                        "filter that never responds (it died in training).", count).format(count=count, layer=layer))
