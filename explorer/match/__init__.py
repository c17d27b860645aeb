"""Stage 5, match: audio files -> synth presets (`matcher`; `python -m explorer.match FILE_OR_FOLDER... --out DIR`).

May import: synth, data, models, evaluate.
"""
