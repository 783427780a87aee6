"""Numeric-field embeddings: scaled values ``[B, Fn]`` (+ missing flags) -> ``[B, Fn, d]``.

Every embedding of :mod:`tabnn.nn.embedding` hands its numeric fields to one of these modules,
chosen by the ``numeric_embedding`` parameter of every neural estimator:

* ``"linear"`` (:class:`LinearNumericEmbedding`): ``x * v + b``, one direction per field;
* ``"piecewise"`` (:class:`PiecewiseLinearEmbedding`): a learned continuous piecewise-linear
  function of the value, with knots at the encoder's quantile bin edges;
* ``"periodic"`` (:class:`PeriodicEmbedding`): ``ReLU(Linear([cos(2 pi c x), sin(2 pi c x)]))``
  with learned frequencies ``c`` per field;
* ``"values"`` (:class:`ValueVectorEmbedding`, spec :class:`WithValues`): the linear one plus
  a learned vector for each frequent value of the discrete columns dominated by one value
  (zero-inflated amounts, sentinel codes); the linear one alone when there are none.

The two non-linear ones follow Gorishniy, Rubachev and Babenko, "On Embeddings for Numerical
Features in Tabular Deep Learning" (NeurIPS 2022). A missing value gets a learned vector of its
own in every module. The modules see the encoder's *scaled* values; the bin edges are mapped
through the same (monotone) scaling by :func:`scaled_bin_edges`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "NUMERIC_EMBEDDINGS",
    "Linear",
    "LinearNumericEmbedding",
    "Periodic",
    "PeriodicEmbedding",
    "PiecewiseLinear",
    "PiecewiseLinearEmbedding",
    "ValueVectorEmbedding",
    "WithValues",
    "build_numeric_embedding",
    "scaled_bin_edges",
    "scaled_values",
]


class _NumericEmbedding(nn.Module):
    """Base: ``encode(x)`` for present values, a learned vector per field for missing ones."""

    def __init__(self, n_fields, dim, init_std):
        super().__init__()
        if n_fields < 0 or dim < 1:
            raise ValueError(
                f"n_fields must be >= 0 and dim >= 1, however: n_fields={n_fields}, dim={dim}"
            )
        self.n_fields, self.dim, self.init_std = n_fields, dim, init_std
        self.missing = nn.Parameter(torch.empty(n_fields, dim))

    def reset_parameters(self):
        nn.init.normal_(self.missing, std=self.init_std)

    def encode(self, numeric):  # pragma: no cover - abstract
        """``[B, Fn]`` scaled values -> ``[B, Fn, d]``."""
        raise NotImplementedError

    def forward(self, numeric, numeric_missing):
        missing = numeric_missing.unsqueeze(-1)
        return (1.0 - missing) * self.encode(numeric) + missing * self.missing


class LinearNumericEmbedding(_NumericEmbedding):
    """One learned vector per numeric field, scaled by the field's value.

    ``e_m = x_m * v_m + b_m`` for a present value and ``u_m`` (a learned "missing" vector)
    when the value is missing, so a missing value is a signal of its own and never a silent 0.

    Parameters
    ----------
    n_fields : int
        Number of numeric fields.
    dim : int
        Embedding size.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation.
    """

    def __init__(self, n_fields, dim, init_std=1e-2):
        super().__init__(n_fields, dim, init_std)
        self.weight = nn.Parameter(torch.empty(n_fields, dim))
        self.bias = nn.Parameter(torch.empty(n_fields, dim))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        nn.init.normal_(self.weight, std=self.init_std)
        nn.init.normal_(self.bias, std=self.init_std)

    def encode(self, numeric):
        return numeric.unsqueeze(-1) * self.weight + self.bias


class PiecewiseLinearEmbedding(_NumericEmbedding):
    """A learned continuous piecewise-linear function of each numeric field's value.

    A field with sorted edges ``e_0 < ... < e_{m-1}`` is encoded into ``m + 1`` components:
    ``min(x - e_0, 0)`` (left tail), one ramp ``clip((x - e_t) / (e_{t+1} - e_t), 0, 1)`` per
    bin between two edges, and ``max(x - e_{m-1}, 0)`` (right tail); a per-field linear map
    takes them to ``d`` dimensions. Every coordinate of the output is thus an arbitrary
    continuous piecewise-linear function of ``x`` with knots at the edges (thresholds and
    non-monotone effects in one layer), linear beyond the outer edges.

    Parameters
    ----------
    bin_edges : sequence of 1-d array-like
        Sorted edges of each numeric field, in the space of the values the module gets (see
        :func:`scaled_bin_edges`); at least one per field. Fields may have different counts.
    dim : int
        Embedding size.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation.
    """

    def __init__(self, bin_edges, dim, init_std=1e-2):
        edges = [np.unique(np.asarray(e, dtype=np.float64)) for e in bin_edges]
        if any(e.size == 0 or not np.isfinite(e).all() for e in edges):
            raise ValueError("bin_edges needs at least one finite edge per field")
        super().__init__(len(edges), dim, init_std)
        n_ramps = max([e.size - 1 for e in edges], default=0)
        left = np.zeros((len(edges), n_ramps))
        width = np.ones((len(edges), n_ramps))
        mask = np.zeros((len(edges), n_ramps))
        for k, e in enumerate(edges):
            left[k, : e.size - 1] = e[:-1]
            width[k, : e.size - 1] = np.diff(e)
            mask[k, : e.size - 1] = 1.0
        buffers = {"left": left, "width": width, "mask": mask,
                   "first": [e[0] for e in edges], "last": [e[-1] for e in edges]}
        for name, value in buffers.items():
            self.register_buffer(name, torch.tensor(np.asarray(value), dtype=torch.float32))
        self.weight = nn.Parameter(torch.empty(len(edges), n_ramps + 2, dim))
        self.bias = nn.Parameter(torch.empty(len(edges), dim))
        self.reset_parameters()

    @property
    def n_components(self):
        """Components per field (ramps + two tails), padded to the field with most edges."""
        return self.weight.shape[1]

    def reset_parameters(self):
        super().reset_parameters()
        nn.init.normal_(self.weight, std=self.init_std)
        nn.init.normal_(self.bias, std=self.init_std)

    def components(self, numeric):
        """``[B, Fn]`` -> ``[B, Fn, n_components]`` piecewise-linear encoding."""
        x = numeric.unsqueeze(-1)
        ramps = torch.clamp((x - self.left) / self.width, 0.0, 1.0) * self.mask
        low = torch.clamp(numeric - self.first, max=0.0).unsqueeze(-1)
        high = torch.clamp(numeric - self.last, min=0.0).unsqueeze(-1)
        return torch.cat([low, ramps, high], dim=-1)

    def encode(self, numeric):
        return torch.einsum("bft,ftd->bfd", self.components(numeric), self.weight) + self.bias


class PeriodicEmbedding(_NumericEmbedding):
    """Periodic features with learned frequencies, then a per-field linear layer and ReLU.

    ``e_m = ReLU(W_m [cos(2 pi c_m x_m), sin(2 pi c_m x_m)] + b_m)`` with ``k`` frequencies
    ``c_m`` per field, initialised from ``N(0, frequency_scale^2)`` and trained.

    Parameters
    ----------
    n_fields : int
        Number of numeric fields.
    dim : int
        Embedding size.
    n_frequencies : int, default=16
        Frequencies ``k`` per field.
    frequency_scale : float, default=0.1
        Standard deviation of the initial frequencies, in cycles per unit of the scaled
        value. The sensitive knob: too large gives noisy fits, too small nearly linear ones.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation of the missing vectors.
    """

    def __init__(self, n_fields, dim, n_frequencies=16, frequency_scale=0.1, init_std=1e-2):
        super().__init__(n_fields, dim, init_std)
        if n_frequencies < 1 or not frequency_scale > 0:
            raise ValueError(
                "n_frequencies must be >= 1 and frequency_scale > 0, however: "
                f"n_frequencies={n_frequencies}, frequency_scale={frequency_scale}"
            )
        self.n_frequencies, self.frequency_scale = n_frequencies, frequency_scale
        self.frequencies = nn.Parameter(torch.empty(n_fields, n_frequencies))
        self.weight = nn.Parameter(torch.empty(n_fields, 2 * n_frequencies, dim))
        self.bias = nn.Parameter(torch.empty(n_fields, dim))
        self.reset_parameters()

    def reset_parameters(self):
        super().reset_parameters()
        nn.init.normal_(self.frequencies, std=self.frequency_scale)
        bound = 1.0 / math.sqrt(2 * self.n_frequencies)  # nn.Linear's fan-in scale
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def encode(self, numeric):
        angle = 2 * math.pi * self.frequencies * numeric.unsqueeze(-1)
        features = torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)
        return torch.relu(torch.einsum("bft,ftd->bfd", features, self.weight) + self.bias)


class ValueVectorEmbedding(nn.Module):
    """Another numeric embedding plus one learned vector per frequent value of a discrete field.

    ``e_m = base(x_m) + u_{m, x_m}`` when ``x_m`` is one of field ``m``'s ``values`` (present,
    seen at least ``min_frequency`` times in training), else ``base(x_m)``. A column of levels
    where single values carry much of the signal (amounts such as adult's capital gain,
    sentinel codes) thus gets what a categorical column gets, and what gradient boosting gets
    from one bin per value, while values never seen (or rare) and continuous columns keep the
    smooth ``base`` embedding alone. Which fields get values is the specification's choice
    (:class:`WithValues`).

    Parameters
    ----------
    base : module
        The numeric embedding added to (e.g. :class:`LinearNumericEmbedding`); it also gives
        missing values their vector.
    values : sequence of 1-d array-like
        Per field the sorted values (in the space of the values the module gets, see
        :func:`scaled_values`) that get a vector; empty for a field without any.
    init_std : float, default=1e-2
        Standard deviation of the normal initialisation of the value vectors.
    """

    def __init__(self, base, values, init_std=1e-2):
        super().__init__()
        values = [np.unique(np.asarray(v, dtype=np.float64)) for v in values]
        if len(values) != base.n_fields:
            raise ValueError(f"values has {len(values)} fields, however the base embedding "
                             f"has {base.n_fields}")
        self.base, self.init_std = base, init_std
        self.n_fields, self.dim = base.n_fields, base.dim
        counts = np.array([v.size for v in values], dtype=np.int64)
        width = max(int(counts.max(initial=0)), 1)
        points = np.full((len(values), width), np.inf)
        for k, v in enumerate(values):
            points[k, : v.size] = v
        # nearest value = the one whose midpoint interval holds x
        mids = np.full((len(values), max(width - 1, 1)), np.inf)
        mids[:, : width - 1] = (points[:, :-1] + points[:, 1:]) / 2
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.register_buffer("points", torch.tensor(points, dtype=torch.float32))
        self.register_buffer("mids", torch.tensor(mids, dtype=torch.float32))
        self.register_buffer("offsets", torch.as_tensor(offsets))
        self.register_buffer("counts", torch.as_tensor(counts))
        self.table = nn.Parameter(torch.empty(max(int(counts.sum()), 1), base.dim))
        self.reset_parameters()

    def reset_parameters(self):
        self.base.reset_parameters()
        nn.init.normal_(self.table, std=self.init_std)

    def embedding_tables(self):
        """The value vectors: like categorical tables, under the embedding L2 penalty."""
        return [self.table]

    def value_index(self, numeric):
        """``[B, Fn]`` -> (row of ``table`` ``[B, Fn]``, whether ``x`` is a kept value)."""
        x = numeric.t().contiguous().to(self.mids.dtype)
        slot = torch.searchsorted(self.mids, x).t()  # [B, Fn], nearest kept value
        nearest = self.points.gather(1, slot.t()).t()
        # equal, not close: the kept values went through the encoder's scaling and float32
        # exactly as the encoded ones did
        match = (slot < self.counts) & (numeric == nearest)
        row = torch.clamp(self.offsets + slot, max=self.table.shape[0] - 1)
        return row, match

    def forward(self, numeric, numeric_missing):
        row, match = self.value_index(numeric)
        keep = (match & (numeric_missing == 0)).unsqueeze(-1)
        extra = nn.functional.embedding(row, self.table)
        return self.base(numeric, numeric_missing) + torch.where(keep, extra, 0.0)


# -- specifications: the values of the ``numeric_embedding`` parameter -------------------------
@dataclass(frozen=True)
class Linear:
    """Specification of :class:`LinearNumericEmbedding` (``numeric_embedding="linear"``)."""

    def build(self, bin_edges, dim):
        """The module for fields with these (scaled) ``bin_edges`` and width ``dim``."""
        return LinearNumericEmbedding(len(bin_edges), dim)


@dataclass(frozen=True)
class PiecewiseLinear:
    """Specification of :class:`PiecewiseLinearEmbedding` (``numeric_embedding="piecewise"``):
    knots at the encoder's quantile bin edges, fitted on the training rows."""

    def build(self, bin_edges, dim):
        """The module for fields with these (scaled) ``bin_edges`` and width ``dim``."""
        return PiecewiseLinearEmbedding(bin_edges, dim)


@dataclass(frozen=True)
class Periodic:
    """Specification of :class:`PeriodicEmbedding` (``numeric_embedding="periodic"``).

    Parameters
    ----------
    n_frequencies : int, default=16
        Learned frequencies per field.
    frequency_scale : float, default=0.1
        Standard deviation of the initial frequencies.
    """

    n_frequencies: int = 16
    frequency_scale: float = 0.1

    def build(self, bin_edges, dim):
        """The module for ``len(bin_edges)`` fields and width ``dim``."""
        return PeriodicEmbedding(len(bin_edges), dim, self.n_frequencies, self.frequency_scale)


@dataclass(frozen=True)
class WithValues:
    """Specification of :class:`ValueVectorEmbedding` (``numeric_embedding="values"``): a
    ``base`` numeric embedding plus a learned vector for each value seen at least
    ``min_frequency`` times in the numeric columns with at most 255 distinct training values
    (:data:`tabnn.encoding.MAX_DISCRETE_VALUES`), at least three such values, and a most
    frequent value that holds at least ``min_mode_share`` of the rows. (Flags and other
    columns of two values gain nothing: a line through two points already gives each value a
    vector of its own.)

    Parameters
    ----------
    base : str or specification, default="linear"
        The numeric embedding of every value (and of the other columns), e.g.
        ``WithValues(base="periodic")``.
    min_mode_share : float, default=0.5
        Which discrete columns get value vectors: those where one value holds at least this
        share of the present rows, such as zero-inflated amounts (adult's capital gain: 0 in
        92 % of the rows, then a few hundred levels, some of which decide the label) or
        sentinel codes (999 for "never"). A scaled vector squeezes the other values into a
        narrow range next to the spike. 0: every discrete column. On ordinary discrete columns
        (ages, counts, quantised sensor readings) value vectors measured no better than the
        base embedding and, with a few dozen rows per value, far worse (they are learned
        before the smooth part and early stopping ends the fit).
    """

    base: object = "linear"
    min_mode_share: float = 0.5
    #: ``build`` takes the fields' kept values (see :func:`build_numeric_embedding`)
    uses_values = True

    def build(self, bin_edges, dim, values=None):
        """The module for fields with these (scaled) ``bin_edges`` and ``values`` (per field
        the pair of kept values and their shares of the rows, :func:`scaled_values`)."""
        base = build_numeric_embedding(self.base, bin_edges, dim)
        # one or two values already get vectors of their own from a line through them
        kept = [v if len(v) >= 3 and np.max(share) >= self.min_mode_share else np.zeros(0)
                for v, share in (values or [])]
        if not any(len(v) for v in kept):
            return base  # nothing to add: exactly the base embedding, same parameters
        return ValueVectorEmbedding(base, kept)


#: numeric embeddings by the name the ``numeric_embedding`` parameter takes
NUMERIC_EMBEDDINGS = {"linear": Linear(), "piecewise": PiecewiseLinear(), "periodic": Periodic(),
                      "values": WithValues()}


def build_numeric_embedding(spec, bin_edges, dim, values=None):
    """Build the numeric embedding named ``spec`` (a key of :data:`NUMERIC_EMBEDDINGS`) or
    described by a specification object with ``build(bin_edges, dim)`` (and a ``values``
    argument when the object has ``uses_values = True``).

    Parameters
    ----------
    spec : str or specification
        ``"linear"``, ``"piecewise"``, ``"periodic"``, ``"values"`` or e.g.
        ``Periodic(frequency_scale=0.3)``.
    bin_edges : list of ndarray
        Sorted bin edges of each numeric field in the scaled space (:func:`scaled_bin_edges`).
    dim : int
        Embedding size.
    values : list of (ndarray, ndarray) or None, default=None
        The kept values of each numeric field in the scaled space and their shares of the rows
        (:func:`scaled_values`).
    """
    if isinstance(spec, str):
        spec = NUMERIC_EMBEDDINGS[spec]
    if getattr(spec, "uses_values", False):
        return spec.build(bin_edges, dim, values=values)
    return spec.build(bin_edges, dim)


def scaled_bin_edges(encoder, fields):
    """The quantile bin edges the encoder learned for ``fields`` (its numeric FieldSpecs),
    mapped through its numeric scaling: the space of ``EncodedTable.numeric``.

    Every scaling is monotone, so a bin of the raw values is a bin of the scaled ones; edges
    that scaling merges (e.g. the clipped tails of ``"quantile"``) are dropped.
    """
    out = []
    for spec in fields:
        edges = np.asarray(encoder._scale(spec, np.asarray(spec.bin_edges, dtype=np.float64)),
                           dtype=np.float64)
        edges = np.unique(edges[np.isfinite(edges)])
        out.append(edges if edges.size else np.zeros(1))
    return out


def scaled_values(encoder, fields):
    """Per numeric field (FieldSpecs) the pair ``(values, shares)``: its kept values
    (``FieldSpec.values``, none for a continuous column) mapped through the encoder's numeric
    scaling, in float32 like ``EncodedTable.numeric`` so that a kept value compares equal to
    its encoding, and their shares of the rows (``FieldSpec.value_shares``)."""
    out = []
    for spec in fields:
        raw = getattr(spec, "values", None)
        if raw is None or len(raw) == 0:
            out.append((np.zeros(0), np.zeros(0)))
            continue
        scaled = np.asarray(encoder._scale(spec, np.asarray(raw, dtype=np.float64)))
        scaled = scaled.astype(np.float32).astype(np.float64)
        ok = np.isfinite(scaled)
        out.append((scaled[ok], np.asarray(spec.value_shares, dtype=np.float64)[ok]))
    return out
