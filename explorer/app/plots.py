"""Plotly figures for the app, built as plain dicts (fast: no plotly object validation on the request path).

Every function returns a figure dict `{"data": [...], "layout": {...}}`; `to_plot(fig)` wraps it for
`gr.Plot` without going through `plotly.graph_objects`. Tests validate the dicts with `go.Figure(fig)`.

The map figure's traces carry a `uid` the browser script (`explorer/app/static/map.js`) relies on:
`ds:<k>` (dataset dots, customdata = dataset index) and the overlay traces `neighbours`, `path`, `ends`,
`current`, which the script moves without re-sending the map.
"""

from __future__ import annotations

import numpy as np
import orjson

PALETTE = ["#c4c4c4", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]
TAG_COLOURS = {-1: "#3b4cc0", 0: "#c8c8c8", 1: "#d62728"}
OVERLAY_UIDS = ("candidates", "neighbours", "path", "ends", "current")
HOP_SECONDS = 1024 / 22050


def to_plot(fig: dict | str):
    """Figure dict (or its JSON) -> value for a `gr.Plot` output (JSON once, no plotly validation)."""
    from gradio.components.plot import PlotData

    return PlotData(type="plotly", plot=fig if isinstance(fig, str) else dumps(fig))


def dumps(fig: dict) -> str:
    """Compact JSON by orjson (the app's figures are large: see docs/APP.md, "Figures as JSON"; NaN -> null)."""
    return orjson.dumps(fig, default=_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def _r(a: np.ndarray, nd: int = 4) -> list:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def _base_layout(**kw) -> dict:
    layout = {"margin": {"l": 40, "r": 10, "t": 30, "b": 35}, "template": "plotly_white",
              "font": {"size": 11}}
    layout.update(kw)
    return layout


# -- latent map ---------------------------------------------------------------------------------

def colour_options(lmap) -> list[str]:
    """Choices for the map's colour-by menu: "category" and one per tag pair."""
    if lmap is None:
        return ["category"]
    return ["category"] + [f"tag: {neg} / {pos}" for neg, pos, *_ in lmap.tag_pairs]


def empty_overlay() -> dict:
    return {"current": None, "neighbours": None, "path": None, "ends": None, "candidates": None}


def map_figure(lmap, colour_by: str = "category", overlay: dict | None = None) -> dict:
    """The 2-D map: dataset dots coloured by category or a tag pair, and the overlay."""
    data: list[dict] = []
    if lmap is None or len(lmap) == 0:
        layout = _base_layout(title={"text": "No latent map for this model", "font": {"size": 13}},
                              xaxis={"visible": False}, yaxis={"visible": False})
        return {"data": [], "layout": layout}
    x0, x1, y0, y1 = lmap.bounds
    text = np.array([f"{n}<br>{b}<br>{_category_hover(lmap, i)}" for i, (n, b) in
                     enumerate(zip(lmap.names, lmap.banks))], dtype=object)
    groups: list[tuple[str, np.ndarray, str]] = []
    if colour_by.startswith("tag:") and len(lmap.tag_pairs):
        labels = colour_options(lmap)[1:]
        j = labels.index(colour_by) if colour_by in labels else 0
        neg, pos = lmap.tag_pairs[j][0], lmap.tag_pairs[j][1]
        col = np.asarray(lmap.tags)[:, j]
        for value, label in ((0, "untagged"), (-1, neg), (1, pos)):
            groups.append((label, np.flatnonzero(col == value), TAG_COLOURS[value]))
    else:
        cats = np.asarray(lmap.category)
        pred = np.zeros(len(cats), bool) if lmap.predicted is None else np.asarray(lmap.predicted, bool)
        for k, name in enumerate(lmap.category_names):  # from the name, then predicted from the sound
            groups.append((name, np.flatnonzero((cats == k) & ~pred), PALETTE[k % len(PALETTE)]))
            groups.append((f"{name} (predicted)", np.flatnonzero((cats == k) & pred), PALETTE[k % len(PALETTE)]))
    kind = "scattergl" if len(lmap) > 5000 else "scatter"
    groups = [g for g in groups if len(g[1])]  # uids ds:0, ds:1, ... over the groups shown
    for k, (label, idx, colour) in enumerate(groups):
        # predicted categories: the category's colour, paler, so the name-derived ones stand out
        opacity = 0.35 if label.endswith("(predicted)") else 0.8
        data.append({"type": kind, "mode": "markers", "uid": f"ds:{k}", "name": f"{label} ({len(idx)})",
                     "x": _r(lmap.xy[idx, 0], 3), "y": _r(lmap.xy[idx, 1], 3), "customdata": idx.tolist(),
                     "text": text[idx].tolist(), "hovertemplate": "%{text}<extra></extra>",
                     "marker": {"size": 6, "color": colour, "opacity": opacity}})
    # WebGL dots are drawn above every SVG trace: the overlay must be WebGL too to stay visible
    data += overlay_traces(overlay or empty_overlay(), kind)
    layout = _base_layout(
        hovermode="closest", hoverdistance=16, uirevision="map", dragmode="pan", clickmode="event",
        xaxis={"range": [x0, x1], "showgrid": False, "zeroline": False, "title": {"text": ""}},
        yaxis={"range": [y0, y1], "showgrid": False, "zeroline": False},
        legend={"orientation": "h", "y": -0.08, "font": {"size": 10}},
        margin={"l": 50, "r": 10, "t": 10, "b": 10}, height=520)
    # a double-click restores the first view and no more: plotly's default ("reset+autosize") re-ranges
    # the axes to fit every trace when two dots are clicked within its double-click delay, so the map
    # jumped under the pointer (issue 9)
    return {"data": data, "layout": layout, "config": {"doubleClick": "reset"}}


def _category_hover(lmap, i: int) -> str:
    if lmap.predicted is not None and lmap.predicted[i]:
        p = "" if lmap.category_p is None else f", p {float(lmap.category_p[i]):.2f}"
        return f"{lmap.category_names[int(lmap.category[i])]} (predicted from the sound{p})"
    return f"{lmap.category_names[int(lmap.category[i])]} (from the name)"


def _xy_lists(points) -> tuple[list, list]:
    if points is None or len(points) == 0:
        return [], []
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return _r(p[:, 0]), _r(p[:, 1])


def overlay_traces(overlay: dict, kind: str = "scatter") -> list[dict]:
    """Overlay traces in a fixed order: audio-in candidates, neighbours, interpolation path, end points,
    current point. `kind`: "scatter" (SVG) or "scattergl", as the map's dots."""
    mx, my = _xy_lists(overlay.get("candidates"))
    nx, ny = _xy_lists(overlay.get("neighbours"))
    px, py = _xy_lists(overlay.get("path"))
    ex, ey = _xy_lists(overlay.get("ends"))
    cx, cy = _xy_lists(None if overlay.get("current") is None else [overlay["current"]])
    return [
        {"type": kind, "mode": "markers", "uid": "candidates", "name": "match candidates", "x": mx, "y": my,
         "marker": {"size": 11, "color": "#4daf4a", "symbol": "triangle-up", "line": {"width": 1, "color": "#000"}},
         "hovertemplate": "candidate c%{pointNumber}<extra></extra>", "showlegend": False},
        {"type": kind, "mode": "markers", "uid": "neighbours", "name": "neighbours", "x": nx, "y": ny,
         "marker": {"size": 10, "color": "#ff9900", "symbol": "diamond", "line": {"width": 1, "color": "#000"}},
         "hovertemplate": "neighbour %{pointNumber}<extra></extra>", "showlegend": False},
        {"type": kind, "mode": "lines+markers", "uid": "path", "name": "interpolation", "x": px, "y": py,
         "line": {"color": "#2b8cbe", "width": 2}, "marker": {"size": 8, "color": "#2b8cbe"},
         "hovertemplate": "step %{pointNumber}<extra></extra>", "showlegend": False},
        {"type": kind, "mode": "markers+text", "uid": "ends", "name": "A/B", "x": ex, "y": ey,
         "text": ["A", "B"][: len(ex)], "textposition": "top center", "hoverinfo": "skip",
         "marker": {"size": 12, "color": "#2b8cbe", "symbol": "square"}, "showlegend": False},
        {"type": kind, "mode": "markers", "uid": "current", "name": "current", "x": cx, "y": cy,
         "marker": {"size": 22, "color": "#e41a1c", "symbol": "star", "line": {"width": 2, "color": "#000"}},
         "hoverinfo": "skip", "showlegend": False},
    ]


def overlay_json(overlay: dict) -> str:
    """What the browser script needs to move the overlay traces: {uid: [xs, ys]}."""
    out = {}
    for t in overlay_traces(overlay):
        out[t["uid"]] = [t["x"], t["y"]]
    return dumps(out)


# -- spectrograms ---------------------------------------------------------------------------------

def _heatmap(logmel: np.ndarray, xaxis: str = "x", yaxis: str = "y", showscale: bool = False,
             x0: float = 0.0) -> dict:
    m = np.asarray(logmel, dtype=np.float64)
    return {"type": "heatmap", "z": _r(m, 2), "x0": x0, "dx": HOP_SECONDS, "colorscale": "Viridis",
            "zmin": -7.0, "zmax": max(2.0, float(np.nanmax(m)) if m.size else 2.0), "showscale": showscale,
            "xaxis": xaxis, "yaxis": yaxis,
            "hovertemplate": "t %{x:.2f} s, mel %{y}: %{z:.2f}<extra></extra>"}


def mel_figure(logmel: np.ndarray, title: str = "") -> dict:
    """One log-mel spectrogram `[64, 80]` (log(mel + 1e-3))."""
    return {"data": [_heatmap(logmel)],
            "layout": _base_layout(title={"text": title, "font": {"size": 12}}, height=240,
                                   xaxis={"title": {"text": "time (s)"}}, yaxis={"title": {"text": "mel band"}})}


def mel_pair_figure(a: np.ndarray, b: np.ndarray, title_a: str, title_b: str) -> dict:
    """Two spectrograms side by side (input vs output)."""
    return {"data": [_heatmap(a, "x", "y"), _heatmap(b, "x2", "y2")],
            "layout": _base_layout(
                height=260, xaxis={"domain": [0, 0.48], "title": {"text": "time (s)"}},
                xaxis2={"domain": [0.52, 1], "title": {"text": "time (s)"}},
                yaxis={"title": {"text": "mel band"}}, yaxis2={"anchor": "x2", "showticklabels": False},
                annotations=[
                    {"text": title_a, "x": 0.24, "y": 1.08, "xref": "paper", "yref": "paper", "showarrow": False},
                    {"text": title_b, "x": 0.76, "y": 1.08, "xref": "paper", "yref": "paper", "showarrow": False}],
                margin={"l": 40, "r": 10, "t": 35, "b": 35})}


def mel_strip_figure(logmels: list[np.ndarray], labels: list[str], title: str = "") -> dict:
    """A row of spectrograms (neighbours, interpolation steps) in one heatmap, separated by gaps."""
    if not logmels:
        return {"data": [], "layout": _base_layout(height=200, title={"text": title})}
    gap = np.full((logmels[0].shape[0], 4), np.nan)
    parts, centres = [], []
    col = 0
    for m in logmels:
        parts += [np.asarray(m, np.float64), gap]
        centres.append(col + m.shape[1] / 2)
        col += m.shape[1] + gap.shape[1]
    z = np.concatenate(parts[:-1], axis=1)
    z = np.where(np.isnan(z), None, np.round(z, 2).astype(object))
    return {"data": [{"type": "heatmap", "z": z.tolist(), "colorscale": "Viridis", "zmin": -7.0,
                      "showscale": False, "hoverinfo": "skip"}],
            "layout": _base_layout(title={"text": title, "font": {"size": 12}}, height=200,
                                   xaxis={"tickvals": centres, "ticktext": labels, "showgrid": False},
                                   yaxis={"title": {"text": "mel"}, "showgrid": False})}


# -- parameters -----------------------------------------------------------------------------------

def params_figure(values: np.ndarray, names: list[str], texts: list[str], in_set: set[int] | None = None,
                  title: str = "") -> dict:
    """Every plugin parameter as a bar (normalised value), real units on hover; the model's set highlighted."""
    v = np.asarray(values, dtype=np.float64)
    in_set = in_set or set()
    colours = ["#2b8cbe" if i in in_set else "#bdbdbd" for i in range(len(v))]
    return {"data": [{"type": "bar", "x": list(names), "y": _r(v, 4), "marker": {"color": colours},
                      "customdata": list(texts),
                      "hovertemplate": "%{x}: %{customdata} (normalised %{y:.3f})<extra></extra>"}],
            "layout": _base_layout(title={"text": title, "font": {"size": 12}}, height=260,
                                   yaxis={"range": [0, 1], "title": {"text": "normalised"}},
                                   xaxis={"tickangle": -60, "tickfont": {"size": 8}},
                                   margin={"l": 40, "r": 10, "t": 30, "b": 90})}


def trajectories_figure(values: np.ndarray, names: list[str], texts: list[list[str]] | None = None) -> dict:
    """Parameter trajectories along an interpolation: `values[steps, P]` normalised, one line per parameter."""
    v = np.asarray(values, dtype=np.float64)
    steps = list(range(v.shape[0]))
    data = []
    for j, name in enumerate(names):
        tr = {"type": "scatter", "mode": "lines+markers", "name": name, "x": steps, "y": _r(v[:, j], 4),
              "marker": {"size": 4}}
        if texts is not None:
            tr["customdata"] = [t[j] for t in texts]
            tr["hovertemplate"] = f"{name} step %{{x}}: %{{customdata}}<extra></extra>"
        data.append(tr)
    return {"data": data, "layout": _base_layout(height=300, xaxis={"title": {"text": "step"}, "dtick": 1},
                                                 yaxis={"title": {"text": "normalised"}, "range": [0, 1]},
                                                 legend={"font": {"size": 9}})}
