"""Evaluate's embedding projector: every test image (up to 2,000) as a point, where the layer before
the classifier places it, flattened to 2-D by PCA or t-SNE in the inspection worker."""

import numpy as np
import plotly.express as px
import streamlit as st

from cifar_core.data.datasets import class_label
from cifar_core.data.images import enlarge
from cifar_core.errors import CoreError
from cifar_core.i18n import N_, _, number
from cifar_core.server import inspection
from pages.figures import LAYOUT, readable
from pages.mistakes_ui import image_alt
from pages.shared import KEEP, show_error, store

METHODS = {"pca": N_("PCA (instant)"), "tsne": N_("t-SNE (seconds, clusters)")}


def projection_figure(points, names, labels, predictions, highlight_mistakes):
    """A scatter coloured by true class; mistakes (by the evaluation's `predictions`, flip averaging
    included where the run uses it) drawn as crosses when highlighted."""
    indices, xy = points["indices"], points["xy"]
    truth, predicted = labels[indices], predictions[indices]
    wrong = predicted != truth
    mistake, right = _("mistake"), _("right")  # the legend's words for the two symbols
    fig = px.scatter(x=xy[:, 0], y=xy[:, 1], color=[class_label(names[t]) for t in truth],
                     category_orders={"color": [class_label(name) for name in names]},
                     symbol=np.where(wrong, mistake, right) if highlight_mistakes else None,
                     symbol_map={right: "circle", mistake: "x"},
                     custom_data=[indices, [class_label(names[p]) for p in predicted]],
                     labels={"color": _("true class"), "symbol": ""})
    fig.update_traces(marker=dict(size=7, opacity=0.8),
                      hovertemplate=_("test image #%{customdata[0]}<br>predicted %{customdata[1]}<extra></extra>"))
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None)
    fig.update_layout(**{**LAYOUT, "height": 560, "legend": dict(font=dict(size=14))}, clickmode="event+select")
    return readable(fig)


def projector_ui(run_id, names, ds, predictions):
    st.header(_("The network's map of the test images"))
    st.caption(_("Each point is a test image, placed by what the layer before the classifier makes of it, "
                 "flattened from hundreds of numbers to two. Images the network finds alike land together: "
                 "clusters of one colour mean it tells that class apart. Click a point to see its image."))
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    method = c1.radio(_("Projection"), list(METHODS), format_func=lambda m: _(METHODS[m]), horizontal=True,
                      key="eval_projection_method", persist_state=KEEP)
    mistakes = c2.toggle(_("Mark the mistakes (×)"), key="eval_projection_mistakes", persist_state=KEEP)
    try:
        with st.spinner(_("Projecting the test images with t-SNE …") if method == "tsne" else _("Projecting …")):
            points = inspection.projection(store(), run_id, method)
    except CoreError as exc:
        show_error(exc)
        return
    predictions = np.asarray(predictions)
    event = st.plotly_chart(projection_figure(points, names, ds.y_test, predictions, mistakes),
                            key="eval_projection_chart",
                            on_select="rerun", selection_mode="points")
    clicked = event.selection.points if event and event.selection else []
    if clicked and clicked[0].get("customdata"):
        index = int(clicked[0]["customdata"][0])
        truth, guess = names[ds.y_test[index]], names[predictions[index]]  # the hover shows them translated
        i1, i2 = st.columns([1, 5], vertical_alignment="center")
        i1.image(enlarge(ds.x_test[index], size=(96, 96)), caption=f"#{index}",
                 alt=image_alt(index, truth, guess, mark_mistake=False))
        i2.markdown(_("Test image **#{index}**: a true **{truth}**, predicted **{guess}**.").format(
            index=index, truth=class_label(truth), guess=class_label(guess)))
        i2.page_link("pages/feature_maps.py", label=_("Open in Feature maps"), icon=":material/visibility:",
                     query_params={"run": run_id, "image": str(index)})
    st.caption(_("{count} test images. PCA keeps the two directions in which the features vary most; t-SNE keeps "
                 "each image's nearest neighbours near, so its clusters mean more than its distances.").format(
        count=number(len(points['indices']))))
