"""FlowSynth Explorer, one subpackage per pipeline stage (docs/ARCHITECTURE.md draws the pipeline):

    synth -> data -> models -> evaluate -> match -> app

A stage imports only the stages before it (tests/test_layering.py checks every import, lazy ones
included). `explorer.cli` (the commands' shared set-up) belongs to no stage and imports none.
"""
