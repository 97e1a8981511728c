"""flytt: moves Altinn 2 correspondences to Altinn 3 and keeps both sides in step.

The package holds the command line (`flytt.cli`), the shared settings (`flytt.settings`),
the warehouse connection (`flytt.warehouse`) and the control schema `flytt`
(`flytt.control`). See DESIGN.md in the shared notes for the six transition steps.
"""

__version__ = "0.1.0"
