"""Experimental: measured, not yet recommended.

What is here works and is tested like the rest of keras-lrx (oracles, three
backends, saving, distribution), but its measured quality does not yet
clear the bar for a default (see the guide "No rate to pick" and
`benchmarks/README.md`); its name or place may change.

- `Mechanic`: a learned global scale for `LRX(..., scale=Mechanic())`.
- `Prodigy`, `DAdaptAdam`: Adam with one estimated global step size; inside
  `LRX`, multipliers act as D-Adaptation's `layer_scale`.
"""

from keras_lrx.learned_scale import Mechanic
from keras_lrx.prodigy import DAdaptAdam
from keras_lrx.prodigy import Prodigy

__all__ = ["DAdaptAdam", "Mechanic", "Prodigy"]
