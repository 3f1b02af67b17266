"""Plotly figures for the pages: learning curves, confusion matrix, bars and histograms."""

import numpy as np
import plotly.colors
import plotly.express as px
import plotly.graph_objects as go

from cifar_core.data.images import colour_map_lut
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


METRIC_TITLES = {"val_accuracy": "Validation accuracy", "val_loss": "Validation loss",
                 "accuracy": "Training accuracy", "loss": "Training loss"}


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
    if points:
        fig.add_scatter(x=[p[0] for p in points], y=[p[column] for p in points], mode="lines",
                        name=f"training {metric} (per batch)", line=dict(color=TRAIN, width=1), opacity=0.35)
    for key, name, colour in ((metric, "training", TRAIN), (f"val_{metric}", "validation", VAL)):
        xs = [e["epoch"] for e in epochs if e.get(key) is not None]
        ys = [e[key] for e in epochs if e.get(key) is not None]
        fig.add_scatter(x=xs, y=ys, mode="lines+markers", name=f"{name} {metric} (per epoch)",
                        line=dict(color=colour, width=3))
    if marker_epoch is not None:
        fig.add_vline(x=marker_epoch, line=dict(color="#444444", width=2, dash="dot"),
                      annotation_text="before training" if marker_epoch == 0 else f"epoch {marker_epoch}")
    fig.update_layout(title=title or metric.capitalize(), xaxis_title="epoch", yaxis_title=metric,
                      **{**LAYOUT, "height": height})
    return readable(fig)


def compare_runs(metric, histories):
    """Overlay one metric per epoch for several runs: {label: epochs}."""
    fig = go.Figure()
    for label, epochs in histories.items():
        fig.add_scatter(x=[e["epoch"] for e in epochs], y=[e.get(metric) for e in epochs],
                        mode="lines+markers", name=label)
    fig.update_layout(title=METRIC_TITLES.get(metric, metric.replace("_", " ")), xaxis_title="epoch", **LAYOUT)
    return readable(fig)


def sweep_batches(metric, series):
    """Training loss or accuracy per batch for several runs on one chart, as they train:
    {label: (fractional epoch, loss, accuracy) points}."""
    column = 1 if metric == "loss" else 2
    fig = go.Figure()
    for label, batches in series.items():
        points = downsample(batches, 300)
        fig.add_scatter(x=[p[0] for p in points], y=[p[column] for p in points], mode="lines", name=label)
    fig.update_layout(title=f"Training {metric} (per batch)", xaxis_title="epoch", yaxis_title=metric, **LAYOUT)
    return readable(fig)


def confusion_matrix(matrix, class_names, normalized, height=560):
    """Heatmap with counts (or row shares) written in the cells, and an invisible point on each
    cell: heatmaps report no selections in Streamlit, points do."""
    values = np.asarray(matrix)
    fig = px.imshow(values, x=class_names, y=class_names, color_continuous_scale="Blues",
                    text_auto=".2f" if normalized else True, aspect="auto",
                    labels=dict(x="predicted class", y="true class", color="share" if normalized else "images"))
    fig.update_traces(hoverinfo="skip", selector=dict(type="heatmap"))
    ys, xs = np.meshgrid(range(len(class_names)), range(len(class_names)), indexing="ij")
    fig.add_scatter(x=[class_names[i] for i in xs.ravel()], y=[class_names[i] for i in ys.ravel()],
                    customdata=values.ravel(), mode="markers", showlegend=False, name="cells",
                    marker=dict(size=30, opacity=0.01, symbol="square", color="black"),
                    hovertemplate="true %{y}, predicted %{x}: %{customdata}<extra></extra>")
    fig.update_traces(textfont=dict(size=15), selector=dict(type="heatmap"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), clickmode="event+select", font=FONT)
    return readable(fig)


def cell_over_epochs(epochs, counts, true_name, pred_name, marker_epoch):
    """One confusion-matrix cell's count of validation images after each recorded epoch."""
    right = true_name == pred_name
    fig = go.Figure(go.Scatter(x=list(epochs), y=np.asarray(counts).tolist(), mode="lines+markers",
                               line=dict(color=VAL if right else TRAIN, width=3),
                               name=f"true {true_name}, predicted {pred_name}"))
    fig.add_vline(x=marker_epoch, line=dict(color="#444444", width=2, dash="dot"))
    fig.update_xaxes(tick0=0, dtick=max(1, round(max(epochs) / 8)))  # whole epochs only
    fig.update_layout(title=f"{true_name} {'recognised' if right else f'taken for {pred_name}'}, epoch by epoch",
                      xaxis_title="epoch (0: before training)", yaxis_title="validation images",
                      **{**LAYOUT, "height": 260})
    return readable(fig)


def reliability_diagram(bins):
    """Accuracy against confidence in equal-width bins, with the diagonal a calibrated network follows;
    each bar's hover gives its images and mean confidence."""
    edges, counts = bins["edges"], bins["counts"]
    centres, filled = (edges[:-1] + edges[1:]) / 2, counts > 0
    fig = go.Figure()
    fig.add_bar(x=centres[filled], y=bins["accuracy"][filled], width=(edges[1] - edges[0]) * 0.9, name="accuracy in the bin",
                marker_color=TRAIN, customdata=np.stack([counts[filled], bins["confidence"][filled]], axis=1),
                hovertemplate="confidence %{x:.2f}±0.05: %{customdata[0]} images, right %{y:.0%} "
                              "(mean confidence %{customdata[1]:.0%})<extra></extra>")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated", line=dict(color=VAL, width=2, dash="dash"))
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="confidence in the predicted class")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title="share right")
    fig.update_layout(title="Reliability: is it as right as it is sure?", **{**LAYOUT, "height": 380})
    return readable(fig)


def difference_matrix(difference, class_names):
    """B's confusion matrix minus A's on a diverging scale centred on 0: blue where B has more images,
    red where it has fewer, white where nothing changed."""
    values = np.asarray(difference)
    reach = max(1, int(np.abs(values).max()))
    fig = px.imshow(values, x=class_names, y=class_names, color_continuous_scale="RdBu",
                    range_color=(-reach, reach), text_auto=True, aspect="auto",
                    labels=dict(x="predicted class", y="true class", color="B − A"))
    fig.update_traces(textfont=dict(size=15), hovertemplate="true %{y}, predicted %{x}: %{z:+d}<extra></extra>")
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=30, b=10), font=FONT)
    return readable(fig)


def lr_finder(search):
    """The range test's loss against the learning rate on a log axis: each batch's loss faint, the
    smoothed loss bold, and the suggested rate marked."""
    fig = go.Figure()
    fig.add_scatter(x=search["learning_rates"], y=search["losses"], mode="lines", name="loss of each batch",
                    line=dict(color=TRAIN, width=1), opacity=0.35)
    fig.add_scatter(x=search["learning_rates"], y=search["smoothed"], mode="lines", name="smoothed loss",
                    line=dict(color=TRAIN, width=3))
    suggested = search.get("suggested_learning_rate")
    if suggested:
        fig.add_vline(x=suggested, line=dict(color=VAL, width=2, dash="dash"))
        fig.add_annotation(x=np.log10(suggested), y=1, yref="paper", text=f"suggested {suggested:g}",
                           showarrow=False, yanchor="bottom", font=dict(size=15, color=VAL))
    # The loss's explosion at the end would flatten everything before it: the axis stops a little above
    # where the loss started.
    smoothed = search["smoothed"]
    top = 1.25 * max(smoothed[:int(np.argmin(smoothed)) + 1]) if smoothed else None
    bottom = 0.9 * min(min(search["losses"]), min(smoothed)) if smoothed else None
    fig.update_layout(title="Loss as the learning rate grows", xaxis_title="learning rate (log scale)",
                      yaxis_title="training loss", **LAYOUT)
    fig.update_xaxes(type="log", dtick=1, exponentformat="e")  # a tick a decade: 1e-6 … 1e+0
    if smoothed:
        fig.update_yaxes(range=[bottom, top])
    return readable(fig)


def class_counts(counts, class_names):
    """Grouped bars: images per class in each split. `counts` is {split: array}."""
    fig = go.Figure([go.Bar(name=split, x=class_names, y=list(values)) for split, values in counts.items()])
    fig.update_layout(barmode="group", title="Images per class", **LAYOUT)
    return readable(fig)


def histogram(counts, edges, title, name=None, colour=TRAIN):
    centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, marker_color=colour, name=name or title))
    fig.update_layout(title=title, bargap=0, **{**LAYOUT, "showlegend": False})
    return readable(fig)


def weight_histograms(hist, layer):
    edges = hist["edges"]
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure([go.Bar(x=centres, y=hist["initial"], name="freshly initialised", marker_color="#999999",
                            opacity=0.6),
                     go.Bar(x=centres, y=hist["trained"], name="trained", marker_color=TRAIN, opacity=0.6)])
    fig.update_layout(barmode="overlay", bargap=0, title=f"Weights of {layer}", xaxis_title="weight", **LAYOUT)
    return readable(fig)


def top_predictions(predictions, height=300, title="Top-5 predictions"):
    names = [n for n, _ in predictions][::-1]
    probs = [p for _, p in predictions][::-1]
    fig = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=TRAIN,
                           text=[f"{p:.1%}" for p in probs], textposition="auto"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".0%"),
                      **{**LAYOUT, "height": height, "showlegend": False})
    return readable(fig)


def class_parcoords(rows, metric="test_accuracy", metric_title="Test accuracy", arch_title=str):
    """One line per run across its settings, coloured by `metric` (TensorBoard's HParams view):
    lines that end high show which settings did well. Learning rates on a log scale."""
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
        categorical("Network", [r["arch"] for r in rows], archs, arch_title),
        categorical("Optimizer", [r["optimizer"] for r in rows], optimizers, str),
        dict(label="Learning<br>rate", values=lr, tickvals=lr_ticks, ticktext=[f"{10 ** t:g}" for t in lr_ticks],
             range=[lr_ticks[0] - 0.5, lr_ticks[-1] + 0.5]),
        dict(label="Batch<br>size", values=batch, range=spread(batch)),
        dict(label="Epochs<br>trained", values=epochs, range=[0, max(epochs) + 1]),
        dict(label="Training<br>images", values=images, range=spread(images)),
        dict(label="Augmen-<br>tations", values=[len(r["augment"]) for r in rows], range=[0, 4], tickvals=[0, 1, 2, 3, 4]),
        dict(label=metric_title.replace(" ", "<br>"), values=scores, range=[0, 1], tickformat=".0%"),
    ]
    fig = go.Figure(go.Parcoords(
        line=dict(color=scores, colorscale="Viridis", cmin=0, cmax=1, showscale=True,
                  colorbar=dict(title=dict(text=metric_title), tickformat=".0%")),
        dimensions=dimensions, labelfont=dict(size=15), tickfont=dict(size=14),
        rangefont=dict(size=1, color="rgba(0,0,0,0)")))  # the ranges repeat the end ticks, over the labels
    fig.update_layout(**{**LAYOUT, "height": 440, "margin": dict(l=90, r=40, t=80, b=30)})
    return fig
