"""Stage 1, synth: the plugin host (`host`), its worker processes (`worker`), amsynth presets (`presets`),
and the parameter sets a model predicts (`param_sets`).

May import: no other stage (only `explorer.cli`).
"""
