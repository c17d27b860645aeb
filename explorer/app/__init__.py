"""Stage 6, app: the Gradio app's engine (`engine`) and per-user state (`state`), one module per tab (`tabs`),
their common namespace (`actions`), the UI (`ui`), plots (`plots`), the latent map (`latent_map`, exported by
`map_export`) and the browser script (`static/map.js`). `app.py` at the top starts it.

May import: every earlier stage (synth, data, models, evaluate, match).
"""
