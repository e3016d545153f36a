"""vjepa-fer: facial-expression recognition from video with frozen V-JEPA encoders.

The package holds every step of the Snakemake pipeline as importable code; the rules in
``workflow/rules`` only call the ``vjepa-fer`` command line (``vjepa_fer.cli``).
"""

__version__ = "0.1.0"
