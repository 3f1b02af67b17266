"""Feature maps' "An adversarial nudge": the fast gradient sign method on the chosen image, against
its true class (a photo: against the predicted one), with ε on a slider, computed by the
inspection worker."""

import numpy as np
import streamlit as st

from cifar_core.config.hparams import EPSILON_STEP, MAX_EPSILON, check_epsilon
from cifar_core.data.images import enlarge, heatmap_overlay
from cifar_core.errors import CoreError
from cifar_core.server import inspection
from pages import figures
from pages.shared import KEEP, show_error, store

PIXELS = 160
DEFAULT_EPSILON = 4.0


def _follow_address():
    """`?epsilon=` in the address sets the slider once per link; out of range it is refused."""
    wanted = st.query_params.get("epsilon")
    if wanted is None or wanted == st.session_state.get("fm_adv_applied"):
        return
    st.session_state["fm_adv_applied"] = wanted
    try:
        st.session_state["fm_adv_epsilon"] = check_epsilon(wanted)
    except CoreError as exc:
        st.session_state["fm_adv_note"] = ("error", f"The address's ε was refused: {exc}")


def _find_smallest(run_id, image, target):
    try:
        epsilon = inspection.smallest_epsilon(store(), run_id, image, target)
    except CoreError as exc:
        st.session_state["fm_adv_note"] = ("error", str(exc))
        return
    if epsilon is None:
        st.session_state["fm_adv_note"] = ("info", f"No ε up to {MAX_EPSILON:g} changes this prediction: the "
                                                   "network is sure of it.")
    else:
        st.session_state["fm_adv_epsilon"] = epsilon
        st.session_state["fm_adv_note"] = ("success", f"ε = {epsilon:g} is the smallest nudge that changes the "
                                                      "prediction.")


@st.fragment
def adversarial_ui(run_id, image, caption, truth, predicted, names):
    """The section for one image: `truth` is its class index (None for a photo), `predicted` the
    network's class for it."""
    st.header("An adversarial nudge")
    target = truth if truth is not None else predicted
    st.caption(f"Move every pixel by at most ε in the direction that makes {names[target]} less likely (the "
               "fast gradient sign method, Goodfellow et al. 2015). The picture barely changes; the prediction "
               "can flip. ε counts pixel levels of 0–255.")
    _follow_address()
    if "fm_adv_epsilon" not in st.session_state:
        st.session_state["fm_adv_epsilon"] = DEFAULT_EPSILON
    slider, find = st.columns([5, 2], vertical_alignment="bottom")
    epsilon = slider.slider("ε (pixel levels of 0–255)", 0.0, MAX_EPSILON, step=EPSILON_STEP, key="fm_adv_epsilon",
                            persist_state=KEEP)
    find.button("Find the smallest ε", key="fm_adv_find", icon=":material/search:", width="stretch",
                on_click=_find_smallest, args=(run_id, image, target),
                help="The least nudge, in steps of 0.25, that changes what the network says")
    kind, note = st.session_state.pop("fm_adv_note", (None, None))
    if note:
        {"error": st.error, "info": st.info, "success": st.success}[kind](note)
    try:
        result = inspection.nudge(store(), run_id, image, target, epsilon, names)
    except CoreError as exc:
        show_error(exc)
        return
    shown = np.round(result["image"]).astype(np.uint8)
    # The change at full contrast: grey where nothing moved, light or dark where a pixel went up or down.
    scale = 127.0 / max(epsilon, EPSILON_STEP)
    difference = np.clip(128 + result["difference"] * scale, 0, 255).astype(np.uint8)
    new = names[result["predicted"]]
    c1, c2, c3, c4 = st.columns(4)
    c1.image(enlarge(shown, size=(PIXELS, PIXELS)), caption=f"Nudged, ε = {epsilon:g}", width=PIXELS,
             alt=f"{caption} after a nudge of ε = {epsilon:g} against {names[target]}")
    c2.image(enlarge(difference, size=(PIXELS, PIXELS)), caption="The nudge, at full contrast", width=PIXELS,
             alt=f"The difference between the nudged image and {caption}, enlarged to full contrast")
    c3.plotly_chart(figures.top_predictions(result["top"], height=240, title="Top-5 after the nudge"),
                    key="fm_adv_predictions")
    if result["cam"] is not None:
        c4.image(heatmap_overlay(shown, result["cam"], figures.CAM_LUT, size=(PIXELS, PIXELS)), width=PIXELS,
                 caption=f"Grad-CAM for {new}", alt=f"Grad-CAM over the nudged image: where the network now "
                                                   f"finds evidence for {new}, bright where it is strongest")
    if result["predicted"] != predicted:
        st.markdown(f"Fooled: at ε = {epsilon:g} the network says **{new}** ({result['top'][0][1]:.0%}) instead "
                    f"of **{names[predicted]}**, for a change no person would notice.")
    else:
        st.markdown(f"Still **{new}** ({result['top'][0][1]:.0%}) at ε = {epsilon:g}: raise ε, or find the "
                    "smallest one that flips it.")
