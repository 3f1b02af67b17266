"""Evaluate's "Compare with…": what this run fixed and broke against another run, image by image."""

import math

import streamlit as st

from cifar_core.data.datasets import class_label
from cifar_core.data.images import enlarge
from cifar_core.errors import CoreError
from cifar_core.i18n import _, current_language, number, percent
from cifar_core.runs.compare import compare_runs
from cifar_core.runs.store import RunStore
from cifar_core.server import inspection
from pages import figures
from pages.shared import KEEP, USABLE, keep_valid, run_label, runs_dir, show_error, store, with_article

IMAGES_PAGE = 30  # fixed or broken images shown at a time
NONE = ""  # the selector's "no comparison" option


@st.cache_data(show_spinner=False, max_entries=8)
def get_comparison(directory, run_a, run_b, versions, language):
    """`compare_runs` of two runs; `versions` (their model files' stamps) and the tab's `language`
    (the settings' words) key the cache."""
    return compare_runs(RunStore(directory), run_a, run_b)


def _evaluated_ui(run_id):
    """Whether `run_id` has an evaluation of its current model, after offering to make one."""
    if store().has_evaluation(run_id):
        return True
    st.info(_("Run {run_id} has not been evaluated on the test set yet: evaluate it first, then compare.")
            .format(run_id=run_id), icon=":material/info:")
    if not st.button(_("Evaluate it now"), key="eval_compare_evaluate", icon=":material/play_arrow:"):
        return False
    bar = st.progress(0.0, text=_("Evaluating on the test set …"))
    evaluating = _("Evaluating {done} of {total} test images")
    inspection.evaluate(store(), run_id, progress=lambda done, total: bar.progress(
        done / total, text=evaluating.format(done=number(done), total=number(total))))
    bar.empty()
    return True


def _images_ui(result, ds, which):
    """The fixed or broken test images, a page at a time, each with both runs' predictions."""
    names, indices = result["class_names"], result[which]
    if not len(indices):
        st.markdown(_("No test image was fixed by run B.") if which == "fixed"
                    else _("No test image was broken by run B."))
        return
    pages = max(1, math.ceil(len(indices) / IMAGES_PAGE))
    page = st.pagination(pages, key=f"eval_compare_page_{which}") if pages > 1 else 1
    first = (page - 1) * IMAGES_PAGE
    shown = indices[first: first + IMAGES_PAGE]
    st.caption(_("Images {first}–{last} of {total}: each with run A's prediction, then run B's.").format(
        first=first + 1, last=first + len(shown), total=len(indices)))
    scale = max(1, 64 // ds.image_shape[0])
    cols = st.columns(10)
    for i, index in enumerate(shown):
        truth = class_label(names[result["labels"][index]])
        guess_a = class_label(names[result["predictions_a"][index]])
        guess_b = class_label(names[result["predictions_b"][index]])
        cols[i % 10].image(enlarge(ds.x_test[index], scale=scale), width="stretch",
                           caption=f"A: {guess_a} · B: {guess_b}",
                           alt=_("Test image #{index}, {truth}: run A predicted {guess_a}, run B {guess_b}").format(
                               index=index, truth=with_article(truth), guess_a=guess_a, guess_b=guess_b))


def compare_ui(run_id, config, ds):
    """The "Compare with…" section for the run on the page, which is run B; the run chosen is A."""
    st.header(_("Compare with another run"))
    st.caption(_("What did one change fix? Choose a run on the same test images, for example the same settings "
                 "without augmentation. This run is B, the run you choose is A, the reference."))
    others = [r for r in store().list() if r["run_id"] != run_id and r["dataset"] == config["dataset"]
              and r["status"] in USABLE and r["has_model"]]
    if not others:
        st.info(_("No other run of this dataset has a model yet: train one with a change (augmentation, another "
                  "architecture, another learning rate), then compare the two here."), icon=":material/info:")
        return
    rows = {r["run_id"]: r for r in others}
    keep_valid("eval_compare_with", [NONE, *rows], NONE)
    other = st.selectbox(_("Compare with (run A)"), [NONE, *rows], key="eval_compare_with", persist_state=KEEP,
                         format_func=lambda i: _("no comparison") if i == NONE else run_label(rows[i]))
    if other == NONE:
        return
    try:
        if not _evaluated_ui(other):
            return
        versions = tuple(tuple(store().model_stamp(r).values()) for r in (other, run_id))
        result = get_comparison(runs_dir(), other, run_id, versions, current_language())
    except CoreError as exc:
        show_error(exc)
        return
    fixed, broken = len(result["fixed"]), len(result["broken"])
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(_("Test accuracy, A"), percent(result['accuracy_a']))
    c2.metric(_("Test accuracy, B"), percent(result['accuracy_b']),
              delta=_("{delta} points").format(delta=f"{100 * (result['accuracy_b'] - result['accuracy_a']):+.1f}"))
    c3.metric(_("Fixed by B"), number(fixed), help=_("Test images that run B labels right and run A wrong."))
    c4.metric(_("Broken by B"), number(broken), help=_("Test images that run A labels right and run B wrong."))
    st.caption(_("Of the {n} test images, both runs label {both_right} right and {both_wrong} wrong. B fixed {fixed} "
                 "and broke {broken}: net {net}.").format(
        n=number(result['n']), both_right=number(result['both_right']), both_wrong=number(result['both_wrong']),
        fixed=number(fixed), broken=number(broken), net=f"{fixed - broken:+,}"))

    st.plotly_chart(figures.difference_matrix(result["difference"], result["class_names"]),
                    key="eval_compare_matrix")
    st.caption(_("Run B's confusion matrix minus run A's. On the diagonal, blue means B labels more images of "
                 "that class right; off it, blue means B confuses that pair more often, red less often."))

    shown_words = {"fixed": _("fixed by B ({count})"), "broken": _("broken by B ({count})")}
    which = st.radio(_("Show the test images"), ("fixed", "broken"), horizontal=True, key="eval_compare_which",
                     persist_state=KEEP, format_func=lambda w: shown_words[w].format(count=number(len(result[w]))))
    _images_ui(result, ds, which)

    differing = [row for row in result["settings"] if row["differs"]]
    st.markdown(_("**Settings that differ:** {settings}").format(
        settings=", ".join(f"{r['setting']} {r['a']} → {r['b']}" for r in differing))
        if differing else _("**The same settings:** only chance tells the two runs apart."))
    st.dataframe([{"setting": r["setting"], "A": str(r["a"]), "B": str(r["b"]), "differs": r["differs"]}
                  for r in result["settings"]], hide_index=True, key="eval_compare_settings",
                 column_config={"setting": st.column_config.Column(_("Setting")),
                                "A": st.column_config.Column(f"A · {other[-6:]}"),
                                "B": st.column_config.Column(f"B · {run_id[-6:]}"),
                                "differs": st.column_config.CheckboxColumn(_("Differs"))})
    st.caption(_("The same from a terminal: {command}").format(
        command=f"python -m cifar_core compare {other} {run_id}"))
