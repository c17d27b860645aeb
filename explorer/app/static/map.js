// FlowSynth Explorer: clicks on the plotly latent map -> hidden textbox #map-click (a Gradio event),
// and overlay updates (#map-overlay, JSON {uid: [xs, ys]}) -> Plotly.restyle of the overlay traces.
// gr.Plot has no click event in Gradio 6, hence this script (DESIGN.md section 3).
() => {
  const plotDiv = () => document.querySelector('#latent-map .js-plotly-plot');

  function setBox(id, text) {
    const box = document.querySelector(`#${id} textarea, #${id} input`);
    if (!box) return false;
    const proto = box.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(box, text);
    box.dispatchEvent(new Event('input', { bubbles: true }));
    return true;
  }

  function dataCoords(gd, ev) {
    const fl = gd._fullLayout;
    const drag = gd.querySelector('.nsewdrag');
    if (!fl || !drag || !ev) return null;
    const bb = drag.getBoundingClientRect();
    const px = ev.clientX - bb.left, py = ev.clientY - bb.top;
    const x = fl.xaxis.p2c(px), y = fl.yaxis.p2c(py);
    // how far 5 pixels reach in data units: the server snaps to a dot within that distance
    const tol = [Math.abs(fl.xaxis.p2c(px + 5) - x), Math.abs(fl.yaxis.p2c(py + 5) - y)];
    return { x, y, tol };
  }

  function onClick(gd, data) {
    const p = data && data.points && data.points[0];
    if (!p) return;
    const uid = (p.data && p.data.uid) || '';
    let payload;
    if (uid.startsWith('ds:')) payload = { kind: 'point', index: p.customdata };
    else if (uid === 'neighbours') payload = { kind: 'neighbour', index: p.pointNumber };
    else if (uid === 'path') payload = { kind: 'step', index: p.pointNumber };
    else {
      const c = dataCoords(gd, data.event) || { x: p.x, y: p.y };
      payload = { kind: 'xy', x: c.x, y: c.y };
      if (c.tol) payload.tol = c.tol;
    }
    payload.t = Date.now(); // a repeated click still changes the box
    setBox('map-click', JSON.stringify(payload));
  }

  function bind() {
    const gd = plotDiv();
    if (gd && gd.on && !gd.__fsBound) {
      gd.__fsBound = true;
      gd.on('plotly_click', (data) => onClick(gd, data));
      gd.setAttribute('data-fs-bound', '1');
    }
  }
  setInterval(bind, 250);

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
  };
}
