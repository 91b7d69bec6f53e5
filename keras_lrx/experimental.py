"""Experimental: measured, not yet recommended.

What is here works and is tested like the rest of keras-lrx (oracles, three
backends, saving, distribution), but its measured quality does not yet
clear the bar for a default (see the guide "No rate to pick" and
`benchmarks/README.md`); its name or place may change.

- `Mechanic`: a learned global scale for `LRX(..., scale=Mechanic())`.
"""

from keras_lrx.learned_scale import Mechanic

__all__ = ["Mechanic"]
