// FlowSynth Explorer: a slider drag's live preview. The server puts a small JSON into the hidden textbox
// #drag-view ({mel: z[64][80], zmax, title, params: [41], texts: [41], overlay: {uid: [xs, ys]}}); this
// updates the plots already drawn in place (Plotly.update / restyle), which costs the browser far less
// than new figures, so the panel can follow the drag. The release then sends the rendered figures.
() => {
  const plot = (id) => document.querySelector(`#${id} .js-plotly-plot`);
  window.fsApplyDrag = (text) => {
    const P = window.Plotly;
    let d;
    try { d = JSON.parse(text); } catch (e) { return; }
    if (!P || !d) return;
    const mel = plot('current-mel'), par = plot('current-params');
    if (mel && mel.data && d.mel) P.update(mel, { z: [d.mel], zmax: [d.zmax] }, { 'title.text': d.title }, [0]);
    if (par && par.data && d.params) P.restyle(par, { y: [d.params], customdata: [d.texts] }, [0]);
    if (d.overlay && window.fsApplyOverlay) window.fsApplyOverlay(JSON.stringify(d.overlay));
    window.fsDragApplied = (window.fsDragApplied || 0) + 1; // tests and benchmarks: updates applied
  };
}
