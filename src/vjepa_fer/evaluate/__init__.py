"""From saved per-clip posteriors to the paper's numbers (docs/protocol.md: Voting, Metrics,
Cross-dataset; docs/datasets.md: "Label spaces and the cross-dataset rules").

- :mod:`~vjepa_fer.evaluate.voting`: per-clip posteriors -> one row per video with the
  posterior-based vote (PBV) and the majority vote (MV), plus the summed posteriors and vote counts
  so that later rules can re-decide.
- :mod:`~vjepa_fer.evaluate.metrics`: confusion matrices in scikit-learn's orientation
  ([label rows, prediction columns]), UAR (mean recall), WAR (accuracy), the paper-compatible "UAR"
  (macro precision, the authors' orientation bug), fold summaries; CLI ``vjepa-fer metrics CM.csv``.
- :mod:`~vjepa_fer.evaluate.cross`: cross-dataset evaluation (paper Table IV): the authors' drop and
  merge rules for calm/surprised, and a strict variant that drops nothing.
- :mod:`~vjepa_fer.evaluate.forwards`: clip-forward and FLOP accounting, the authors' protocol
  against this pipeline (CLI ``vjepa-fer forwards``).

Everything here is NumPy/pandas only (scikit-learn is used by the tests as the reference) and
every output carries class names, never bare indices.
"""
