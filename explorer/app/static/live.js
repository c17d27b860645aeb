// FlowSynth Explorer: a slider drag's live preview. The server puts a small JSON into the hidden textbox
// #drag-view ({mel: z[64][80], zmax, title, params: [41], texts: [41], overlay: {uid: [xs, ys]}}); this
// updates the plots already drawn in place (Plotly.restyle; the log-mel's title only when it changes),
// and shows the dragged sound's place on the map as a hollow star in an HTML element over the plot: no
// plotly redraw of the map (its WebGL scene is the costliest thing on the page). Measured with
// benchmarks/drag_rate.py. The release sends the rendered figures and moves the red star; the marker goes.
() => {
  const plot = (id) => document.querySelector(`#${id} .js-plotly-plot`);

  function marker(map) {
    let m = document.getElementById('fs-drag-marker');
    if (!m) {
      m = document.createElement('div');
      m.id = 'fs-drag-marker';
      m.textContent = '\u2606';
      m.style.cssText = 'position:fixed;pointer-events:none;z-index:1000;color:#e41a1c;font-size:28px;'
        + 'line-height:28px;width:28px;text-align:center;text-shadow:0 0 2px #fff;display:none';
      document.body.appendChild(m);
    }
    return m;
  }

  window.fsApplyDrag = (text) => {
    const P = window.Plotly;
    let d;
    try { d = JSON.parse(text); } catch (e) { return; }
    if (!P || !d) return;
    const mel = plot('current-mel'), par = plot('current-params'), map = plot('latent-map');
    if (mel && mel.data && d.mel) {
      P.restyle(mel, { z: [d.mel], zmax: [d.zmax] }, [0]);
      const title = mel.layout.title && mel.layout.title.text;
      if (title !== d.title) P.relayout(mel, { 'title.text': d.title });
    }
    if (par && par.data && d.params) P.restyle(par, { y: [d.params], customdata: [d.texts] }, [0]);
    const cur = d.overlay && d.overlay.current, fl = map && map._fullLayout;
    const drag = map && map.querySelector('.nsewdrag');
    if (fl && fl.xaxis && drag && cur && cur[0].length) {
      const bb = drag.getBoundingClientRect(), m = marker(map);
      const px = bb.left + fl.xaxis.c2p(cur[0][0]), py = bb.top + fl.yaxis.c2p(cur[1][0]);
      const inside = px >= bb.left && px <= bb.right && py >= bb.top && py <= bb.bottom;
      m.style.left = `${px - 14}px`;
      m.style.top = `${py - 14}px`;
      m.style.display = inside ? 'block' : 'none';
      m.dataset.x = cur[0][0];
      m.dataset.y = cur[1][0];
    }
    window.fsDragApplied = (window.fsDragApplied || 0) + 1; // tests and benchmarks: updates applied
  };

  window.fsDropDrag = () => { // the release: the marker goes (the release's render moves the red star)
    const m = document.getElementById('fs-drag-marker');
    if (m) m.style.display = 'none';
  };
  // the marker is fixed to the window: a scroll would leave it behind, so it goes (the next update puts it back)
  document.addEventListener('scroll', () => window.fsDropDrag(), true);
}
