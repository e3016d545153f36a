"""From the pipeline's evaluation outputs to the paper's tables and figures.

Implements docs/protocol.md, sections "Metrics", "Cross-dataset", "Figures" and "Paper
numbers to compare with".

- :mod:`~vjepa_fer.report.tables` (stage ``vjepa-fer tables``): Tables II, III and IV as CSV,
  Markdown and LaTeX (booktabs) from an encoder's ``results/<encoder>/metrics`` (``table2.csv``,
  ``table4.csv``, ``per_fold.csv`` of ``vjepa-fer evaluate``); with ``--compare-paper`` the
  paper's numbers and the differences beside ours, like for like (the paper's "UAR" against our
  paper-compatible UAR = macro precision; WAR against WAR).
- :mod:`~vjepa_fer.report.render`: the table model (display cells, :class:`Table`) and its CSV,
  Markdown and LaTeX renderers, shared by ``tables`` and ``wild``.
- :mod:`~vjepa_fer.report.figures` (stage ``vjepa-fer figures``): Figs. 3–6 and the training curves
  as PNG and PDF, from ``results/<encoder>/`` (confusion matrices, per-video votes, PCA tokens,
  ``curve.csv``) and the datasets' ``results/<dataset>/manifest.csv``. matplotlib/seaborn are
  imported inside the functions, never at import time.
- :mod:`~vjepa_fer.report.paper`: the paper's own numbers (Tables II and IV) and the literature
  rows of its Table III (package data ``resources/table3_literature.csv``, with citations).

    vjepa-fer tables --metrics results/vit_huge/metrics --data results \\
        --out results/vit_huge/tables --run-name NAME --compare-paper
    vjepa-fer figures --results results/vit_huge --data results --out results/vit_huge/figures \\
        --pca-dataset crema-d --pca-fold 1
"""
