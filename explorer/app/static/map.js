// FlowSynth Explorer: clicks on the plotly latent map -> hidden textbox #map-click (a Gradio event),
// and overlay updates (#map-overlay, JSON {uid: [xs, ys]}) -> Plotly.restyle of the overlay traces.
// gr.Plot has no click event in Gradio 6, hence this script (DESIGN.md section 3).
() => {
  const plotDiv = () => document.querySelector('#latent-map .js-plotly-plot');

  // The click itself decides what was clicked, from its own position: plotly's `plotly_click` reports the
  // points of its last hover, which can be stale (a click that follows a quick move, or a redraw, names
  // the previously hovered dot: issue 9), and it needs a listener on a div that redraws replace.
  const PICK_PX = 6; // a dot (marker size 6) counts as clicked within this many pixels of its centre
  const PICKABLE = (uid) => uid.startsWith('ds:') || uid === 'neighbours' || uid === 'path';

  function nearestPoint(gd, px, py) {
    const fl = gd._fullLayout;
    let best = null, bestD = PICK_PX;
    (gd._fullData || []).forEach((t) => {
      const uid = t.uid || '';
      if (t.visible !== true || !PICKABLE(uid) || !t.x) return;
      for (let k = 0; k < t.x.length; k++) {
        const d = Math.hypot(fl.xaxis.c2p(t.x[k]) - px, fl.yaxis.c2p(t.y[k]) - py);
        // on a tie an overlay point (drawn on top) wins over a dataset dot
        if (d < bestD || (d === bestD && best && best.uid.startsWith('ds:') && !uid.startsWith('ds:'))) {
          bestD = d; best = { uid, k, custom: t.customdata ? t.customdata[k] : null };
        }
      }
    });
    return best;
  }

  // What is under the pointer, from the axes as they are now: the nearest dot, neighbour or path step
  // within PICK_PX, else the spot's data coordinates.
  function pickAt(gd, ev) {
    const fl = gd._fullLayout;
    const drag = gd.querySelector('.nsewdrag');
    if (!fl || !fl.xaxis || !drag) return null;
    const bb = drag.getBoundingClientRect();
    const px = ev.clientX - bb.left, py = ev.clientY - bb.top;
    const p = nearestPoint(gd, px, py);
    if (p && p.uid.startsWith('ds:')) return { kind: 'point', index: Array.isArray(p.custom) ? p.custom[0] : p.custom };
    if (p && p.uid === 'neighbours') return { kind: 'neighbour', index: p.k };
    if (p) return { kind: 'step', index: p.k };
    return { kind: 'xy', x: fl.xaxis.p2c(px), y: fl.yaxis.p2c(py) };
  }

  const onMap = (gd, ev) => gd && ev.target instanceof Element && ev.target.classList.contains('nsewdrag')
    && gd.contains(ev.target);

  // One listener pair on `document`, which no redraw ever replaces, so there is nothing to re-bind and no
  // window in which a click can be lost. Capture phase: they see the press before plotly's drag layer.
  // The pick is made at the press, from the map the person saw: between press and release plotly may
  // redraw (a second click within its double-click delay used to re-range the axes before the release).
  let down = null;
  document.addEventListener('mousedown', (ev) => {
    const gd = plotDiv();
    down = onMap(gd, ev) ? { x: ev.clientX, y: ev.clientY, pick: pickAt(gd, ev) } : null;
  }, true);
  document.addEventListener('click', (ev) => {
    const gd = plotDiv();
    if (!onMap(gd, ev)) return;
    if (down && Math.hypot(ev.clientX - down.x, ev.clientY - down.y) > 3) return; // the end of a zoom / pan drag
    const payload = (down && down.pick) || pickAt(gd, ev);
    down = null;
    if (!payload) return;
    payload.t = Date.now(); // a repeated click still changes the box
    window.fsSetBox('map-click', JSON.stringify(payload));
  }, true);
  document.documentElement.setAttribute('data-fs-click', '1'); // tests: the script has run

  window.fsApplyOverlay = (text) => {
    const gd = plotDiv();
    if (!gd || !gd.data || !text || !window.Plotly) return;
    let ov;
    try { ov = JSON.parse(text); } catch (e) { return; }
    const idx = [], xs = [], ys = [];
    gd.data.forEach((t, i) => {
      if (t.uid && ov[t.uid]) { idx.push(i); xs.push(ov[t.uid][0]); ys.push(ov[t.uid][1]); }
    });
    if (idx.length) window.Plotly.restyle(gd, { x: xs, y: ys }, idx);
    if (window.fsDropDrag) window.fsDropDrag(); // a drag's marker (live.js): the star is where it was
    if (ov.centre) { // a search result: centre the map on it, keeping the zoom
      const fl = gd._fullLayout, xr = fl.xaxis.range, yr = fl.yaxis.range;
      const hx = (xr[1] - xr[0]) / 2, hy = (yr[1] - yr[0]) / 2, [cx, cy] = ov.centre;
      window.Plotly.relayout(gd, { 'xaxis.range': [cx - hx, cx + hx], 'yaxis.range': [cy - hy, cy + hy] });
    }
  };
}
