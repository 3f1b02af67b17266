"""Feature maps' "An adversarial nudge": the fast gradient sign method on the chosen image, against
its true class (a photo: against the predicted one), with ε on a slider, computed by the
inspection worker."""

import numpy as np
import streamlit as st

from cifar_core.config.hparams import EPSILON_STEP, MAX_EPSILON, check_epsilon
from cifar_core.data.datasets import class_label
from cifar_core.data.images import enlarge, heatmap_overlay
from cifar_core.errors import CoreError
from cifar_core.i18n import _, percent
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
        st.session_state["fm_adv_note"] = ("error", _("The address's ε was refused: {error}").format(error=exc))


def _find_smallest(run_id, image, target):
    try:
        epsilon = inspection.smallest_epsilon(store(), run_id, image, target)
    except CoreError as exc:
        st.session_state["fm_adv_note"] = ("error", str(exc))
        return
    if epsilon is None:
        st.session_state["fm_adv_note"] = ("info", _("No ε up to {high} changes this prediction: the network is "
                                                     "sure of it.").format(high=f"{MAX_EPSILON:g}"))
    else:
        st.session_state["fm_adv_epsilon"] = epsilon
        st.session_state["fm_adv_note"] = ("success", _("ε = {epsilon} is the smallest nudge that changes the "
                                                        "prediction.").format(epsilon=f"{epsilon:g}"))


@st.fragment
def adversarial_ui(run_id, image, caption, truth, predicted, names):
    """The section for one image: `truth` is its class index (None for a photo), `predicted` the
    network's class for it."""
    st.header(_("An adversarial nudge"))
    target = truth if truth is not None else predicted
    st.caption(_("Move every pixel by at most ε in the direction that makes {target} less likely (the fast "
                 "gradient sign method, Goodfellow et al. 2015). The picture barely changes; the prediction can "
                 "flip. ε counts pixel levels of 0–255.").format(target=class_label(names[target])))
    _follow_address()
    if "fm_adv_epsilon" not in st.session_state:
        st.session_state["fm_adv_epsilon"] = DEFAULT_EPSILON
    slider, find = st.columns([5, 2], vertical_alignment="bottom")
    epsilon = slider.slider(_("ε (pixel levels of 0–255)"), 0.0, MAX_EPSILON, step=EPSILON_STEP,
                            key="fm_adv_epsilon", persist_state=KEEP)
    find.button(_("Find the smallest ε"), key="fm_adv_find", icon=":material/search:", width="stretch",
                on_click=_find_smallest, args=(run_id, image, target),
                help=_("The least nudge, in steps of 0.25, that changes what the network says"))
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
    new = class_label(names[result["predicted"]])
    shown_epsilon, sure = f"{epsilon:g}", percent(result['top'][0][1], 0)
    c1, c2, c3, c4 = st.columns(4)
    c1.image(enlarge(shown, size=(PIXELS, PIXELS)), caption=_("Nudged, ε = {epsilon}").format(epsilon=shown_epsilon),
             width=PIXELS, alt=_("{caption} after a nudge of ε = {epsilon} against {target}").format(
                 caption=caption, epsilon=shown_epsilon, target=class_label(names[target])))
    c2.image(enlarge(difference, size=(PIXELS, PIXELS)), caption=_("The nudge, at full contrast"), width=PIXELS,
             alt=_("The difference between the nudged image and {caption}, enlarged to full contrast").format(
                 caption=caption))
    c3.plotly_chart(figures.top_predictions(result["top"], height=240, title=_("Top-5 after the nudge")),
                    key="fm_adv_predictions")
    if result["cam"] is not None:
        c4.image(heatmap_overlay(shown, result["cam"], figures.CAM_LUT, size=(PIXELS, PIXELS)), width=PIXELS,
                 caption=_("Grad-CAM for {predicted}").format(predicted=new),
                 alt=_("Grad-CAM over the nudged image: where the network now finds evidence for {predicted}, "
                       "bright where it is strongest").format(predicted=new))
    if result["predicted"] != predicted:
        st.markdown(_("Fooled: at ε = {epsilon} the network says **{predicted}** ({confidence}) instead of "
                      "**{before}**, for a change no person would notice.").format(
            epsilon=shown_epsilon, predicted=new, confidence=sure, before=class_label(names[predicted])))
    else:
        st.markdown(_("Still **{predicted}** ({confidence}) at ε = {epsilon}: raise ε, or find the smallest one "
                      "that flips it.").format(predicted=new, confidence=sure, epsilon=shown_epsilon))
