// FlowSynth Explorer: how the page's scripts talk to the server. A script puts text into a hidden Gradio
// textbox (#id) as if typed, so that the textbox's change event runs the server's handler.
() => {
  window.fsSetBox = (id, text) => {
    const box = document.querySelector(`#${id} textarea, #${id} input`);
    if (!box) return false;
    const proto = box.tagName === 'TEXTAREA' ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value').set.call(box, text);
    box.dispatchEvent(new Event('input', { bubbles: true }));
    return true;
  };
}
