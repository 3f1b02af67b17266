"""Train's "Find a learning rate": the range test of the settings above, its curve, and one click
to use the rate it suggests."""

import streamlit as st

from cifar_core.errors import CoreError
from cifar_core.i18n import _
from pages import figures
from pages.shared import manager, show_error, translated

SEARCH = "train_lr_search"  # this tab's search id


def use_rate(rate):
    """Callback of "Use": the form takes the rate before its widgets are drawn."""
    st.session_state["train_learning_rate"] = rate


def _waiting_ui(search_id):
    """While the search trains: a note and Cancel; the whole page redraws once it has ended."""
    try:
        state = manager().learning_rate_search(search_id)
    except CoreError as exc:
        show_error(exc)
        return
    if state["status"] != "running":
        st.rerun()  # the result is drawn with the rest of the page
    if manager().active():
        text = _("Finding a learning rate: about 100 batches, each at a higher rate … It waits for the run in "
                 "training to finish first.")
    else:
        text = _("Finding a learning rate: about 100 batches, each at a higher rate …")
    st.info(text, icon=":material/hourglass_top:")
    if st.button(_("Cancel"), key="train_lr_cancel", icon=":material/stop:"):
        try:
            manager().cancel_learning_rate_search(search_id)
        except CoreError as exc:
            show_error(exc)


def _result_ui(state):
    if state["status"] == "failed":
        show_error(state["reason"])
        return
    if state["status"] == "cancelled":
        st.info(_("Cancelled: nothing was suggested."), icon=":material/info:")
        return
    search = state["result"]
    st.plotly_chart(figures.lr_finder(search), key="train_lr_chart")
    suggested = search["suggested_learning_rate"]
    if suggested is None:
        st.warning(search["reason"], icon=":material/warning:")
        return
    st.success(_("Suggested learning rate: **{rate}**, the {rule} ({batches} batches in {seconds} s).").format(
        rate=f"{suggested:g}", rule=translated(search["rule"]), batches=len(search["losses"]),
        seconds=f"{search['seconds']:.0f}"), icon=":material/lightbulb:")
    st.button(_("Use {rate}").format(rate=f"{suggested:g}"), key="train_lr_use", on_click=use_rate, args=(suggested,),
              icon=":material/check:", help=_("Sets the learning rate above; press Start training next."))


def lr_finder_ui(ds_name, arch_name, hparams, training, wrong):
    """The search, started with the form's settings; one at a time a tab."""
    with st.expander(_("Find a learning rate"), icon=":material/manage_search:"):
        st.caption(_("Trains a copy of these settings for about 100 batches while the learning rate grows "
                     "from 0.000001 to 1, and draws the loss. Where the loss falls fastest is a good rate to "
                     "train with; where it shoots up, too high. Nothing is saved, and the settings stay as they are."))
        if st.button(_("Find a learning rate"), key="train_lr_find", icon=":material/manage_search:",
                     disabled=bool(wrong), help=_("Correct the values named above first.") if wrong else None):
            try:
                st.session_state[SEARCH] = manager().find_learning_rate(ds_name, arch_name, hparams, **training)
            except CoreError as exc:
                show_error(exc)
                return
        search_id = st.session_state.get(SEARCH)
        if search_id is None:
            return
        try:
            state = manager().learning_rate_search(search_id)
        except CoreError as exc:
            show_error(exc)
            return
        if state["status"] == "running":
            st.fragment(_waiting_ui, run_every=1)(search_id)
        else:
            _result_ui(state)
