"""Stage 2, data: mel features (`features`), descriptors and tags (`tags`), the dataset build and load
(`dataset`, `python -m explorer.data build`), audio input conditioning (`audio_input`: read, resample,
pitch shift) and the parameter ranking behind the sets (`param_rank`).

May import: synth.
"""
