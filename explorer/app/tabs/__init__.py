"""The app's tabs, one module each: plain functions of (engine, state, inputs) -> (state, outputs)."""
