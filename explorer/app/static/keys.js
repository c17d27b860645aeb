// FlowSynth Explorer: the on-screen keyboard (#fs-keyboard [data-note]) and the computer keys play the
// current sound at a MIDI note: the note goes into the hidden textbox #audition-key (a Gradio event).
// Computer keys (when no text field has the focus): a w s e d f t g y h u j k = C .. C an octave up,
// z / x = octave down / up. One listener each on `document`, as for the map (nothing to re-bind).
() => {
  const WHITE_BLACK = 'awsedftgyhujk'; // semitones 0..12 from the keyboard's base C
  let octave = 0; // shift of the computer keys, in octaves, from C4 (60)

  function play(note, el) {
    if (note < 24 || note > 108) return;
    // t: the same key twice still changes the box
    window.fsSetBox('audition-key', JSON.stringify({ note, t: Date.now() }));
    document.querySelectorAll('#fs-keyboard [data-note].down').forEach((k) => k.classList.remove('down'));
    const key = el || document.querySelector(`#fs-keyboard [data-note="${note}"]`);
    if (key) key.classList.add('down');
  }

  document.addEventListener('click', (ev) => {
    const key = ev.target instanceof Element ? ev.target.closest('#fs-keyboard [data-note]') : null;
    if (key) play(parseInt(key.dataset.note, 10), key);
  }, true);

  document.addEventListener('keydown', (ev) => {
    const t = ev.target;
    if (ev.repeat || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t instanceof Element && (t.closest('input, textarea, select, [contenteditable=true]'))) return;
    const k = ev.key.toLowerCase();
    if (k === 'z' || k === 'x') {
      octave = Math.max(-3, Math.min(3, octave + (k === 'z' ? -1 : 1)));
      const lbl = document.querySelector('#fs-octave');
      if (lbl) lbl.textContent = `computer keys: C${4 + octave}`;
      return;
    }
    const i = WHITE_BLACK.indexOf(k);
    if (i >= 0) { play(60 + 12 * octave + i); ev.preventDefault(); }
  }, true);
  document.documentElement.setAttribute('data-fs-keys', '1'); // tests: the script has run
}
