"""Plotly figures for the pages: learning curves, confusion matrix, bars and histograms."""

import numpy as np
import plotly.colors
import plotly.express as px
import plotly.graph_objects as go

from cifar_core.data.datasets import class_label
from cifar_core.data.images import colour_map_lut
from cifar_core.i18n import N_, _, percent
from cifar_core.runs.curves import downsample

TRAIN, VAL = "#1f5fbf", "#d9480f"
# Feature maps through Viridis read on a projector: dark purple for weak responses, yellow for
# strong, and it stays ordered in greyscale and for colour-blind viewers.
LUT = colour_map_lut(plotly.colors.sequential.Viridis)
# Grad-CAM over a photo: Inferno keeps the photo readable under dark (unimportant) regions.
CAM_LUT = colour_map_lut(plotly.colors.sequential.Inferno)
# Text of at least 14 px everywhere (ticks, axis titles, legends, cell values): read from the back
# of a classroom. Plotly's own default is 12 px.
FONT = dict(size=15, color="#111111")
LAYOUT = dict(margin=dict(l=10, r=10, t=44, b=10), height=340, showlegend=True, font=FONT,
              title_font=dict(size=18), legend=dict(orientation="h", yanchor="top", y=-0.34, font=dict(size=14)))


METRIC_TITLES = {"val_accuracy": N_("Validation accuracy"), "val_loss": N_("Validation loss"),
                 "accuracy": N_("Training accuracy"), "loss": N_("Training loss")}
# The words of a learning curve for each metric, whole phrases for the translators.
CURVE_TEXTS = {
    "loss": {"title": N_("Loss"), "axis": N_("loss"), "batch": N_("training loss (per batch)"),
             "training": N_("training loss (per epoch)"), "validation": N_("validation loss (per epoch)"),
             "sweep": N_("Training loss (per batch)")},
    "accuracy": {"title": N_("Accuracy"), "axis": N_("accuracy"), "batch": N_("training accuracy (per batch)"),
                 "training": N_("training accuracy (per epoch)"),
                 "validation": N_("validation accuracy (per epoch)"), "sweep": N_("Training accuracy (per batch)")},
}


def curve_texts(metric):
    """CURVE_TEXTS of `metric` ("loss" or "accuracy") in the reader's language."""
    return {part: _(text) for part, text in CURVE_TEXTS[metric].items()}


def readable(fig):
    """Fonts set on every axis, legend and colour bar: Streamlit's chart theme sets tick labels to
    12.75 px, which a figure's global font does not override."""
    axis = dict(tickfont=dict(size=14), title_font=dict(size=15))
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    fig.update_layout(legend_font_size=14, title_font_size=18)
    fig.update_coloraxes(colorbar_tickfont_size=14, colorbar_title_font_size=15)
    return fig


def learning_curve(metric, epochs, batches=(), title=None, height=340, marker_epoch=None):
    """Training against validation per epoch, with the per-batch running value behind it.

    `batches` holds (fractional epoch, loss, accuracy) points; `marker_epoch`, an epoch to mark.
    """
    column = 1 if metric == "loss" else 2
    fig = go.Figure()
    points = downsample(batches, 400)
    texts = curve_texts(metric)
    if points:
        fig.add_scatter(x=[p[0] for p in points], y=[p[column] for p in points], mode="lines",
                        name=texts["batch"], line=dict(color=TRAIN, width=1), opacity=0.35)
    for key, name, colour in ((metric, "training", TRAIN), (f"val_{metric}", "validation", VAL)):
        xs = [e["epoch"] for e in epochs if e.get(key) is not None]
        ys = [e[key] for e in epochs if e.get(key) is not None]
        fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=texts[name],
                        line=dict(color=colour, width=3))
    if marker_epoch is not None:
        fig.add_vline(x=marker_epoch, line=dict(color="#444444", width=2, dash="dot"),
                      annotation_text=_("before training") if marker_epoch == 0
                      else _("epoch {epoch}").format(epoch=marker_epoch))
    fig.update_layout(title=title or texts["title"], xaxis_title=_("epoch"), yaxis_title=texts["axis"],
                      **{**LAYOUT, "height": height})
    return readable(fig)


def compare_runs(metric, histories):
    """Overlay one metric per epoch for several runs: {label: epochs}."""
    fig = go.Figure()
    for label, epochs in histories.items():
        fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e.get(metric) for e in epochs],
                        mode="lines+markers", name=label)
    title = _(METRIC_TITLES[metric]) if metric in METRIC_TITLES else metric.replace("_", " ")
    fig.update_layout(title=title, xaxis_title=_("epoch"), **LAYOUT)
    return readable(fig)


def sweep_batches(metric, series):
    """Training loss or accuracy per batch for several runs on one chart, as they train:
    {label: (fractional epoch, loss, accuracy) points}."""
    column = 1 if metric == "loss" else 2
    fig = go.Figure()
    for label, batches in series.items():
        points = downsample(batches, 300)
        fig.add_scatter(x=[p[0] for p in points], y=[p[column] for p in points], mode="lines", name=label)
    texts = curve_texts(metric)
    fig.update_layout(title=texts["sweep"], xaxis_title=_("epoch"), yaxis_title=texts["axis"], **LAYOUT)
    return readable(fig)


def cell_hover(true, predicted, value):
    """A matrix cell's hover text, from Plotly's `%{...}` references to its true and predicted class
    and its value."""
    return _("true {true}, predicted {predicted}: {value}").format(
        true=true, predicted=predicted, value=value) + "<extra></extra>"


def class_ticks(fig, class_names):
    """Both axes show `class_names` in the reader's language, while the data (and the points that a
    click selects) keep the names themselves."""
    labels = [class_label(n) for n in class_names]
    for update in (fig.update_xaxes, fig.update_yaxes):
        update(tickmode="array", tickvals=list(class_names), ticktext=labels)


def confusion_matrix(matrix, class_names, normalized, height=560):
    """Heatmap with counts (or row shares) written in the cells, and an invisible point on each
    cell: heatmaps report no selections in Streamlit, points do."""
    values = np.asarray(matrix)
    fig = px.imshow(values, x=class_names, y=class_names, color_continuous_scale="Blues",
                    text_auto=".2f" if normalized else True, aspect="auto",
                    labels=dict(x=_("predicted class"), y=_("true class"),
                                color=_("share") if normalized else _("images")))
    fig.update_traces(hoverinfo="skip", selector=dict(type="heatmap"))
    ys, xs = np.meshgrid(range(len(class_names)), range(len(class_names)), indexing="ij")
    labels = [class_label(n) for n in class_names]
    fig.add_scatter(x=[class_names[i] for i in xs.ravel()], y=[class_names[i] for i in ys.ravel()],
                    customdata=[[value, labels[i], labels[j]]
                                for value, i, j in zip(values.ravel().tolist(), ys.ravel(), xs.ravel())],
                    mode="markers", showlegend=False, name="cells",
                    marker=dict(size=30, opacity=0.01, symbol="square", color="black"),
                    hovertemplate=cell_hover("%{customdata[1]}", "%{customdata[2]}", "%{customdata[0]}"))
    class_ticks(fig, class_names)
    fig.update_traces(textfont=dict(size=15), selector=dict(type="heatmap"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select", font=FONT)
    return readable(fig)


def cell_over_epochs(epochs, counts, true_name, pred_name, marker_epoch):
    """One confusion-matrix cell's count of validation images after each recorded epoch."""
    right = true_name == pred_name
    fig = go.Figure(go.Scatter(x=list(epochs), y=np.asarray(counts).tolist(), mode="lines+markers",
                               line=dict(color=VAL if right else TRAIN, width=3),
                               name=_("true {true}, predicted {predicted}").format(
                                   true=class_label(true_name), predicted=class_label(pred_name))))
    fig.add_vline(x=marker_epoch, line=dict(color="#444444", width=2, dash="dot"))
    fig.update_xaxes(tick0=0, dtick=max(1, round(max(epochs) / 8)))  # whole epochs only
    title = (_("{true} recognised, epoch by epoch") if right
             else _("{true} taken for {predicted}, epoch by epoch"))
    fig.update_layout(title=title.format(true=class_label(true_name), predicted=class_label(pred_name)),
                      xaxis_title=_("epoch (0: before training)"), yaxis_title=_("validation images"),
                      **{**LAYOUT, "height": 260})
    return readable(fig)


def reliability_diagram(bins):
    """Accuracy against confidence in equal-width bins, with the diagonal a calibrated network follows;
    each bar's hover gives its images and mean confidence."""
    edges, counts = bins["edges"], bins["counts"]
    centres, filled = (edges[:-1] + edges[1:]) / 2, counts > 0
    fig = go.Figure()
    hover = _("confidence {confidence}±0.05: {images} images, right {right} (mean confidence {mean})").format(
        confidence="%{x:.2f}", images="%{customdata[0]}", right="%{y:.0%}", mean="%{customdata[1]:.0%}")
    fig.add_bar(x=centres[filled], y=bins["accuracy"][filled], width=(edges[1] - edges[0]) * 0.9,
                name=_("accuracy in the bin"), marker_color=TRAIN,
                customdata=np.stack([counts[filled], bins["confidence"][filled]], axis=1),
                hovertemplate=hover + "<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name=_("perfectly calibrated"),
                    line=dict(color=VAL, width=2, dash="dash"))
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title=_("confidence in the predicted class"))
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title=_("share right"))
    fig.update_layout(title=_("Reliability: is it as right as it is sure?"), **{**LAYOUT, "height": 380})
    return readable(fig)


def difference_matrix(difference, class_names):
    """B's confusion matrix minus A's on a diverging scale centred on 0: blue where B has more images,
    red where it has fewer, white where nothing changed."""
    values = np.asarray(difference)
    reach = max(1, int(np.abs(values).max()))
    labels = [class_label(n) for n in class_names]  # nothing here is clicked: the axes hold the shown names
    fig = px.imshow(values, x=labels, y=labels, color_continuous_scale="RdBu",
                    range_color=(-reach, reach), text_auto=True, aspect="auto",
                    labels=dict(x=_("predicted class"), y=_("true class"), color="B − A"))
    fig.update_traces(textfont=dict(size=15), hovertemplate=cell_hover("%{y}", "%{x}", "%{z:+d}"))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=30, b=10), font=FONT)
    return readable(fig)


def lr_finder(search):
    """The range test's loss against the learning rate on a log axis: each batch's loss faint, the
    smoothed loss bold, and the suggested rate marked."""
    fig = go.Figure()
    fig.add_scatter(x=search["learning_rates"], y=search["losses"], mode="lines", name=_("loss of each batch"),
                    line=dict(color=TRAIN, width=1), opacity=0.35)
    fig.add_scatter(x=search["learning_rates"], y=search["smoothed"], mode="lines", name=_("smoothed loss"),
                    line=dict(color=TRAIN, width=3))
    suggested = search.get("suggested_learning_rate")
    if suggested:
        fig.add_vline(x=suggested, line=dict(color=VAL, width=2, dash="dash"))
        fig.add_annotation(x=np.log10(suggested), y=1, yref="paper",
                           text=_("suggested {rate}").format(rate=f"{suggested:g}"), showarrow=False,
                           yanchor="bottom", font=dict(size=15, color=VAL))
    # The loss's explosion at the end would flatten everything before it: the axis stops a little above
    # where the loss started.
    smoothed = search["smoothed"]
    top = 1.25 * max(smoothed[:int(np.argmin(smoothed)) + 1]) if smoothed else None
    bottom = 0.9 * min(min(search["losses"]), min(smoothed)) if smoothed else None
    fig.update_layout(title=_("Loss as the learning rate grows"), xaxis_title=_("learning rate (log scale)"),
                      yaxis_title=_("training loss"), **LAYOUT)
    fig.update_xaxes(type="log", dtick=1, exponentformat="e")  # a tick a decade: 1e-6 … 1e+0
    if smoothed:
        fig.update_yaxes(range=[bottom, top])
    return readable(fig)


def class_counts(counts, class_names):
    """Grouped bars: images per class in each split. `counts` is {split name as shown: array}."""
    labels = [class_label(n) for n in class_names]
    fig = go.Figure([go.Bar(name=split, x=labels, y=list(values)) for split, values in counts.items()])
    fig.update_layout(barmode="group", title=_("Images per class"), **LAYOUT)
    return readable(fig)


def histogram(counts, edges, title, name=None, colour=TRAIN):
    centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, marker_color=colour, name=name or title))
    fig.update_layout(title=title, bargap=0, **{**LAYOUT, "showlegend": False})
    return readable(fig)


def weight_histograms(hist, layer):
    edges = hist["edges"]
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure([go.Bar(x=centres, y=hist["initial"], name=_("freshly initialised"), marker_color="#999999",
                            opacity=0.6),
                     go.Bar(x=centres, y=hist["trained"], name=_("trained"), marker_color=TRAIN, opacity=0.6)])
    fig.update_layout(barmode="overlay", bargap=0, title=_("Weights of {layer}").format(layer=layer),
                      xaxis_title=_("weight"), **LAYOUT)
    return readable(fig)


def top_predictions(predictions, height=300, title=None):
    """Bars of (class name, probability) pairs, the likeliest on top; `title` by default "Top-5 predictions"."""
    names = [class_label(name) for name, _p in predictions][::-1]
    probs = [p for _name, p in predictions][::-1]
    fig = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=TRAIN,
                           text=[percent(p) for p in probs], textposition="auto"))
    fig.update_layout(title=title if title is not None else _("Top-5 predictions"),
                      xaxis=dict(range=[0, 1], tickformat=".0%"), **{**LAYOUT, "height": height, "showlegend": False})
    return readable(fig)


def class_parcoords(rows, metric="test_accuracy", metric_title=None, arch_title=str):
    """One line per run across its settings, coloured by `metric` (TensorBoard's HParams view):
    lines that end high show which settings did well. Learning rates on a log scale. `metric_title`,
    in the reader's language, is by default "Test accuracy"."""
    if metric_title is None:
        metric_title = _("Test accuracy")
    archs = sorted({r["arch"] for r in rows})
    optimizers = sorted({r["optimizer"] for r in rows})

    def categorical(label, values, choices, text):
        return dict(label=label, values=[choices.index(v) for v in values], tickvals=list(range(len(choices))),
                    ticktext=[text(c) for c in choices], range=[-0.5, len(choices) - 0.5])

    def spread(values):  # a range around a single value, so that its line sits mid-axis
        low, high = min(values), max(values)
        return [low * 0.5, high * 1.5] if low == high else [low, high]

    lr = np.log10([r["learning_rate"] for r in rows])
    lr_ticks = np.arange(np.floor(lr.min()), np.ceil(lr.max()) + 1)
    scores = [r[metric] for r in rows]
    batch, epochs, images = ([r[k] or 0 for r in rows] for k in ("batch_size", "epochs", "train_size"))
    dimensions = [
        categorical(_("Network"), [r["arch"] for r in rows], archs, arch_title),
        categorical(_("Optimizer"), [r["optimizer"] for r in rows], optimizers, str),
        dict(label=_("Learning<br>rate"), values=lr, tickvals=lr_ticks, ticktext=[f"{10 ** t:g}" for t in lr_ticks],
             range=[lr_ticks[0] - 0.5, lr_ticks[-1] + 0.5]),
        dict(label=_("Batch<br>size"), values=batch, range=spread(batch)),
        dict(label=_("Epochs<br>trained"), values=epochs, range=[0, max(epochs) + 1]),
        dict(label=_("Training<br>images"), values=images, range=spread(images)),
        dict(label=_("Augmen-<br>tations"), values=[len(r["augment"]) for r in rows], range=[0, 4],
             tickvals=[0, 1, 2, 3, 4]),
        dict(label=metric_title.replace(" ", "<br>"), values=scores, range=[0, 1], tickformat=".0%"),
    ]
    fig = go.Figure(go.Parcoords(
        line=dict(color=scores, colorscale="Viridis", cmin=0, cmax=1, showscale=True,
                  colorbar=dict(title=dict(text=metric_title), tickformat=".0%")),
        dimensions=dimensions, labelfont=dict(size=15), tickfont=dict(size=14),
        rangefont=dict(size=1, color="rgba(0,0,0,0)")))  # the ranges repeat the end ticks, over the labels
    fig.update_layout(**{**LAYOUT, "height": 440, "margin": dict(l=90, r=40, t=80, b=30)})
    return fig
