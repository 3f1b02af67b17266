"""Evaluate's "Confident mistakes and calibration": the reliability diagram with its expected
calibration error, the most confused pairs of classes with their images, and the most confident
mistakes; every image opens Grad-CAM on Feature maps."""

import numpy as np
import streamlit as st

from cifar_core.data.datasets import class_label
from cifar_core.data.images import enlarge
from cifar_core.i18n import _, percent
from cifar_core.runs.mistakes import most_confused, reliability, top_losses
from pages import figures
from pages.shared import KEEP, with_article

TOP_LOSSES = 20
CONFUSED_PAIRS = 8
PAIR_IMAGES = 10


def why_link(column, run_id, index, guess, truth):
    """Under a mistake: straight to Grad-CAM, where the network looked for each of the two classes."""
    column.page_link("pages/feature_maps.py", label=_("Why?"), icon=":material/visibility:",
                     query_params={"run": run_id, "image": str(index)},
                     help=_("Where the network looked, for {guess} and for {truth} (Grad-CAM)").format(
                         guess=class_label(guess), truth=class_label(truth)))


def image_alt(index, truth, guess, mark_mistake=True):
    """A test image's alt text from its true and predicted class names, "(a mistake)" added where they
    differ (when `mark_mistake`)."""
    values = {"index": index, "truth": with_article(class_label(truth)), "guess": class_label(guess)}
    if mark_mistake and guess != truth:
        return _("Test image #{index}, {truth}, predicted {guess} (a mistake)").format(**values)
    return _("Test image #{index}, {truth}, predicted {guess}").format(**values)


def image_grid(run_id, ds, names, items, scale):
    """Test images in rows of ten: items are (index, predicted class, caption)."""
    cols = st.columns(10)
    for i, (index, guess, caption) in enumerate(items):
        truth = names[ds.y_test[index]]
        cols[i % 10].image(enlarge(ds.x_test[index], scale=scale), caption=caption, width="stretch",
                           alt=image_alt(index, truth, names[guess]))
        if names[guess] != truth:
            why_link(cols[i % 10], run_id, index, names[guess], truth)


def calibration_ui(result):
    bins = reliability(result["labels"], result["predictions"], result["confidence"])
    sure, right = float(np.mean(result["confidence"])), float(np.mean(result["predictions"] == result["labels"]))
    chart, words = st.columns([3, 2])
    chart.plotly_chart(figures.reliability_diagram(bins), key="eval_reliability_chart")
    words.metric(_("Expected calibration error"), percent(bins['ece']))
    if sure > right + 0.02:
        summary = _("On average the network's confidence is **{ece}** away from how often it is right at that "
                    "confidence. Overall it is {sure} sure and right {right} of the time: **overconfident**.")
    elif sure < right - 0.02:
        summary = _("On average the network's confidence is **{ece}** away from how often it is right at that "
                    "confidence. Overall it is {sure} sure and right {right} of the time: **underconfident**.")
    else:
        summary = _("On average the network's confidence is **{ece}** away from how often it is right at that "
                    "confidence. Overall it is {sure} sure and right {right} of the time: about as sure as it "
                    "is right.")
    words.markdown(summary.format(ece=percent(bins['ece']), sure=percent(sure, 0), right=percent(right, 0)))
    words.caption(_("Each bar gathers the test images the network gave about the same confidence; a "
                    "calibrated network's bars reach the dashed diagonal (of the images it is 80 % sure of, "
                    "80 % right)."))


def mistakes_ui(run_id, result, ds, scale):
    """The section, from the run's stored evaluation `result` of the test set `ds`."""
    names = result["class_names"]
    st.header(_("Confident mistakes and calibration"))
    st.caption(_("Is the network as right as it is sure? Which classes does it mix up, and which images "
                 "fooled it the most?"))
    calibration_ui(result)

    st.subheader(_("Most confused pairs"))
    pairs = most_confused(result["confusion_matrix"], names)[:CONFUSED_PAIRS]
    if not pairs:
        st.success(_("No mistakes on the test set."), icon=":material/check:")
    else:
        labels = [f"{true} taken for {predicted}: {count}" for true, predicted, count in pairs]  # the values

        def pair_words(label):
            true, predicted, count = pairs[labels.index(label)]
            return _("{true} taken for {predicted}: {count}").format(
                true=class_label(true), predicted=class_label(predicted), count=count)

        chosen = st.pills(_("Most confused pairs (true class taken for predicted, images)"), labels,
                          key="eval_confused_pair", persist_state=KEEP, label_visibility="collapsed",
                          format_func=pair_words)
        if chosen in labels:
            true, predicted, count = pairs[labels.index(chosen)]
            cell = result["cells"][names.index(true)][names.index(predicted)]
            st.caption(_("The first {shown} of the {count} test images of {true} the network called {predicted}; "
                         "the confusion matrix above pages through all of them.").format(
                shown=min(count, PAIR_IMAGES), count=count, true=class_label(true),
                predicted=class_label(predicted)))
            image_grid(run_id, ds, names, [(int(i), names.index(predicted), f"#{i}") for i in cell[:PAIR_IMAGES]],
                       scale)
        else:
            st.caption(_("Choose a pair to see its images."))

    st.subheader(_("Most confident mistakes"))
    if result["probabilities"] is None:
        st.info(_("This evaluation was stored before the class probabilities were: evaluate the run again "
                  "to rank its mistakes by loss."), icon=":material/info:")
        return
    losses = top_losses(result["labels"], result["probabilities"], TOP_LOSSES)
    st.caption(_("The mistakes with the highest loss: the network was sure, and wrong. Each caption gives its "
                 "guess with its confidence, and the true class with the probability the network left it. "
                 "Often the label is debatable, or the object is tiny or cut off."))
    caption = _("{guess} {confidence}, true {truth} {probability}")
    image_grid(run_id, ds, names, [(m["index"], m["predicted"], caption.format(
        guess=class_label(names[m["predicted"]]), confidence=percent(m['confidence'], 0),
        truth=class_label(names[ds.y_test[m["index"]]]), probability=percent(m['true_probability'], 0)))
        for m in losses], scale)
