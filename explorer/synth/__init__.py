"""Stage 1, synth: the plugin host (`host`), its worker processes (`worker`), the same workers on Ray actors
(`ray_pool`, imported only for `--ray`), amsynth presets (`presets`), and the parameter sets a model predicts
(`param_sets`).

May import: no other stage (only `explorer.cli`).
"""
