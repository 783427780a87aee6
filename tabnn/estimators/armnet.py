"""ARM-Net and ARM-Net+ as scikit-learn estimators, with per-row explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .._params import Interval, IntSequence, Options
from ..nn.armnet import ARMNet
from ._base import NeuralClassifierMixin, NeuralEstimator, NeuralRegressorMixin, fill_doc

__all__ = ["ARMNetClassifier", "ARMNetRegressor"]

ARMNET_PARAMETERS = """\
attention_heads : int, default=4
        Attention heads ``K``; each has its own key transform and its own neurons.
    neurons_per_head : int, default=32
        Exponential neurons (cross features) per head ``O``; the model has ``K * O`` of them.
    entmax_alpha : float, default=1.5
        α of the entmax that turns attention scores into weights over the fields: 1 is
        softmax (every field in every neuron), larger values give sparser neurons (each
        multiplies fewer fields). 1.5 and 2 (sparsemax) are solved exactly, other values by
        bisection (slower).
    mlp_hidden : tuple of int, default=(256, 256)
        Hidden sizes of the prediction MLP on the neuron outputs.
    dnn_hidden : tuple of int or None, default=None
        Hidden sizes of the parallel DNN of ARM-Net+ on the flat embeddings (its logits and
        ARM-Net's are mixed by a learned linear layer that starts as their average); None or
        ``()`` gives plain ARM-Net.
    dropout : float, default=0.0
        Dropout in the prediction MLP and the DNN.
    normalization : {"batch", "layer"}, default="batch"
        Normalisation of the neuron outputs and in the MLPs. ``"batch"`` is the paper's;
        ``"layer"`` normalises each row on its own, so a row's gradient does not depend on the
        rows it shares a batch with (sample weights then act exactly as row repetitions)."""


def _importance_fn(network, batch):
    out = network.model(network.embedding(*batch))
    return out.aux["interaction_weights"].float()


class _ARMNetBase(NeuralEstimator):
    _param_constraints = {
        "attention_heads": [Interval("int", 1)],
        "neurons_per_head": [Interval("int", 1)],
        "entmax_alpha": [Interval("real", 1, None, closed="left")],
        "mlp_hidden": [IntSequence(1)],
        "dnn_hidden": [IntSequence(1), Options(None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "normalization": [Options("batch", "layer")],
    }

    def __init__(
        self,
        *,
        attention_heads=4,
        neurons_per_head=32,
        entmax_alpha=1.5,
        mlp_hidden=(256, 256),
        dnn_hidden=None,
        dropout=0.0,
        normalization="batch",
        **common,
    ):
        super().__init__(**common)
        self.attention_heads = attention_heads
        self.neurons_per_head = neurons_per_head
        self.entmax_alpha = entmax_alpha
        self.mlp_hidden = mlp_hidden
        self.dnn_hidden = dnn_hidden
        self.dropout = dropout
        self.normalization = normalization

    def _build_model(self, embedding, n_outputs):
        return ARMNet(
            embedding.n_fields,
            embedding.dim,
            n_outputs,
            attention_heads=self.attention_heads,
            neurons_per_head=self.neurons_per_head,
            alpha=float(self.entmax_alpha),
            mlp_hidden=tuple(self.mlp_hidden),
            dnn_hidden=tuple(self.dnn_hidden or ()),
            dropout=float(self.dropout),
            normalization=self.normalization,
        )

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the encoder, train the network and summarise its interaction weights.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
            Training data; categorical columns are detected from their dtype.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (also weigh the rows of ``feature_importances_``).
        X_val, y_val, sample_weight_val : default=None
            Validation rows for early stopping (see :meth:`NeuralEstimator.fit`).

        Returns
        -------
        self
        """
        super().fit(X, y, sample_weight, X_val=X_val, y_val=y_val,
                    sample_weight_val=sample_weight_val)
        per_row = self._row_importance(X)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w is not None and w.sum() <= 0:
            w = None
        self.feature_importances_ = np.average(per_row, axis=0, weights=w)
        return self

    # -- explanations ----------------------------------------------------------------------
    def _to_input_order(self, by_field):
        """``[..., F]`` over model fields -> ``[..., n_features_in_]`` in input column order."""
        positions, _ = self._field_order()
        out = np.zeros(by_field.shape[:-1] + (self.n_features_in_,), dtype=np.float64)
        out[..., positions] = by_field
        return out

    def _row_importance(self, X):
        def fn(network, batch):
            return _importance_fn(network, batch).abs().mean(dim=1)

        return self._to_input_order(self._forward(X, fn))

    def _column_names(self):
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        schema = sorted(self.encoder_.schema_, key=lambda s: s.index)
        return [str(s.name) for s in schema]

    def explain(self, X, summary=False):
        """Per row, the fields every exponential neuron multiplies and with which exponent.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
        summary : bool, default=False
            False: one row per (input row, neuron) with the neuron's interaction weight of
            every field. True: one row per input row with each field's mean absolute weight
            over the neurons (the row's field importance).

        Returns
        -------
        DataFrame
            Columns are the input's feature names in input order. With ``summary=False`` the
            index has two levels: the input's index (a RangeIndex for non-pandas input) and
            ``neuron`` (``head * neurons_per_head + o``); a value is the exponent ``w`` of the
            field in the neuron's cross feature ``prod_f e_f ^ w_f`` for this row, and most are
            exactly 0 (entmax leaves the fields a neuron ignores at 0; with ``entmax_alpha=1`` none
            is). With ``summary=True`` the index is the input's.
        """
        check_is_fitted(self, "module_")
        index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
        if summary:
            values = self._row_importance(X)
        else:
            values = self._to_input_order(
                self._forward(X, lambda net, batch: _importance_fn(net, batch)))
        n = values.shape[0]
        if index is None:
            index = pd.RangeIndex(n)
        columns = self._column_names()
        if summary:
            return pd.DataFrame(values, index=index, columns=columns)
        n_neurons = values.shape[1]
        names = [index.name if index.name is not None else "row", "neuron"]
        rows = pd.MultiIndex.from_arrays(
            [index.repeat(n_neurons), np.tile(np.arange(n_neurons), n)], names=names)
        return pd.DataFrame(values.reshape(n * n_neurons, -1), index=rows, columns=columns)


@fill_doc(armnet_parameters=ARMNET_PARAMETERS)
class ARMNetClassifier(NeuralClassifierMixin, ClassifierMixin, _ARMNetBase):
    """ARM-Net classifier: sparse, per-row multiplicative cross features (binary and
    multi-class).

    Exponential neurons ``exp(sum_f w_f E_f)`` (cross features ``prod_f e_f ^ w_f`` of the
    fields, with the embeddings in log space) whose field exponents ``w`` are chosen per row by
    multi-head attention with a sparse entmax normalisation, then batch normalisation and an
    MLP (Cai et al., SIGMOD 2021). Each neuron multiplies a few fields of its own choice for
    each row, which :meth:`explain` returns. ``dnn_hidden`` adds the parallel DNN of ARM-Net+.
    The attention and the exponentials run in float32 even under mixed precision.

    Parameters
    ----------
    %(armnet_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Mean absolute interaction weight of each input column over the neurons and the
        training rows (weighted by ``sample_weight``), in input column order.
    %(common_attributes)s

    Examples
    --------
    >>> from tabnn import ARMNetClassifier
    >>> from tabnn.datasets import make_ctr
    >>> data = make_ctr(n_samples=2000, random_state=0)  # doctest: +SKIP
    >>> clf = ARMNetClassifier(random_state=0).fit(data.data, data.target)  # doctest: +SKIP
    >>> clf.explain(data.data[:2]).shape  # doctest: +SKIP
    (256, 39)
    """


@fill_doc(armnet_parameters=ARMNET_PARAMETERS)
class ARMNetRegressor(NeuralRegressorMixin, RegressorMixin, _ARMNetBase):
    """ARM-Net regressor: sparse, per-row multiplicative cross features, squared-error loss.

    The target is standardised for training and mapped back for ``predict``.

    Parameters
    ----------
    %(armnet_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    feature_importances_ : ndarray of shape (n_features_in_,)
        Mean absolute interaction weight of each input column over the neurons and the
        training rows (weighted by ``sample_weight``), in input column order.
    %(common_attributes)s
    """
