"""Numpy/polars core of OutRank (cardinality-aware feature ranking).

* :mod:`._mi` -- information measures from joint histograms, the noise-label stream.
* :mod:`._streaming` -- one chunked counting pass over an in-memory table, a polars
  LazyFrame or a parquet file.
* :mod:`._rank` -- per-feature scores and the 3MR greedy ranking.
* :mod:`._engine` -- ranking table and data-quality report from a pass.

The public entry points live in :mod:`tabnn.estimators.outrank`.
"""

from ._mi import NullLabels, conditional_entropy, mutual_information, outrank_score

__all__ = ["NullLabels", "conditional_entropy", "mutual_information", "outrank_score"]
