"""The attentive probe trained on frozen V-JEPA tokens, its optimiser and its training loop.

Implements docs/protocol.md, sections "Attentive probe", "Training unit" and
"Optimisation". ``probe.attentive`` holds the model (:class:`AttentiveProbe`), ``probe.optim``
the AdamW parameter groups and the per-iteration cosine schedules; importing either imports
torch, so CLI stage modules import them inside their functions.

Tests: ``.venv/bin/pytest tests/unit/probe/test_attentive.py tests/unit/probe/test_optim.py``.
"""
