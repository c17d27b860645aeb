"""Stage 4, evaluate: metrics (`metrics`), reference rows (`baselines`), refinement (Levenberg-Marquardt / CMA-ES) against a target
(`refine`, also used by match and the app), the evaluation command (`targets`, `rows`;
`python -m explorer.evaluate`), a paired comparison of two results (`compare`), the out-of-domain set
(`ood`) and the semantic evaluation (`semantic`).

May import: synth, data, models.
"""
