"""FCN (DCNv3) as scikit-learn estimators."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .._params import Boolean, Interval, Options
from ..nn.fcn import FCN
from ._base import NeuralClassifierMixin, NeuralEstimator, NeuralRegressorMixin, fill_doc

__all__ = ["FCNClassifier", "FCNRegressor"]

FCN_PARAMETERS = """\
branches : {"both", "ecn", "lcn"}, default="both"
        ``"both"``: the fused model (FCN); ``"ecn"`` / ``"lcn"``: one branch alone (the
        paper's ablation). The fused logit is the mean of the two branch logits.
    ecn_layers : int, default=3
        Cross layers of the Exponential Cross Network (interaction order ``2**l`` after
        ``l`` layers). 3 ECN and 4 LCN layers with dropout 0.1 / 0.2 are the authors'
        setting for Criteo (39 fields, embedding 16, batch 4096), the closest of their
        configurations to a CTR table.
    lcn_layers : int, default=4
        Cross layers of the Linear Cross Network (order ``l + 1`` after ``l`` layers).
    ecn_dropout : float, default=0.1
        Dropout after each ECN layer. On the CPU the rate is rounded to a multiple of 1/256
        (random bytes are much cheaper than torch's per-element draws).
    lcn_dropout : float, default=0.2
        Dropout after each LCN layer (rounded as ``ecn_dropout``).
    layer_norm : bool, default=True
        Self-Mask ``ReLU(LayerNorm(c))`` (True) or ``ReLU(c)`` (False). The LayerNorm centres
        the cross vector, so the mask keeps about half of it per row.
    batch_norm : bool, default=False
        Batch normalisation of the cross vector over the head axis (the authors use it on
        some data sets). It breaks the exact polynomial order in training mode.
    n_heads : int, default=1
        Field vectors are cut into ``n_heads`` chunks of ``embedding_dim / n_heads`` values,
        each crossed with the same weights; head logits are averaged.
        ``embedding_dim / n_heads`` must be even.
    tri_bce : bool, default=True
        Train with Tri-BCE: ``L + w_ecn * L_ecn + w_lcn * L_lcn`` where ``L`` is the loss of
        the fused prediction, ``L_ecn`` / ``L_lcn`` those of the branches and
        ``w = max(0, L_branch - L)`` (cross-entropy for multi-class, squared error for
        regression, in the same three-term form). False: the fused loss alone. Only used
        with ``branches="both"``.
    detach_tri_bce_weights : bool, default=False
        Treat the adaptive weights ``w`` as constants in the gradient. The authors' code
        does not (the gradient also flows through ``w``, which then pushes a lagging branch
        harder)."""

FCN_NOTES = """\
Notes
    -----
    The embedding width must be even (a multiple of ``2 * n_heads``): every field vector is
    split into two halves, the first crossed with the plain cross vector, the second with its
    masked view. Another ``embedding_dim`` is rejected at the start of ``fit`` (before any
    training), with a ``ValueError`` naming it.

    Per-branch predictions: ``predict(X, branch=...)`` (and for a classifier
    ``predict_proba`` / ``decision_function``) with ``branch`` in ``"fused"``, ``"ecn"``,
    ``"lcn"``. The Self-Mask's activity: :meth:`mask_activity`."""


class _FCNBase(NeuralEstimator):
    _param_constraints = {
        "branches": [Options("both", "ecn", "lcn")],
        "ecn_layers": [Interval("int", 0)],
        "lcn_layers": [Interval("int", 0)],
        "ecn_dropout": [Interval("real", 0, 1, closed="left")],
        "lcn_dropout": [Interval("real", 0, 1, closed="left")],
        "layer_norm": [Boolean()],
        "batch_norm": [Boolean()],
        "n_heads": [Interval("int", 1)],
        "tri_bce": [Boolean()],
        "detach_tri_bce_weights": [Boolean()],
    }

    def __init__(
        self,
        *,
        branches="both",
        ecn_layers=3,
        lcn_layers=4,
        ecn_dropout=0.1,
        lcn_dropout=0.2,
        layer_norm=True,
        batch_norm=False,
        n_heads=1,
        tri_bce=True,
        detach_tri_bce_weights=False,
        **common,
    ):
        super().__init__(**common)
        self.branches = branches
        self.ecn_layers = ecn_layers
        self.lcn_layers = lcn_layers
        self.ecn_dropout = ecn_dropout
        self.lcn_dropout = lcn_dropout
        self.layer_norm = layer_norm
        self.batch_norm = batch_norm
        self.n_heads = n_heads
        self.tri_bce = tri_bce
        self.detach_tri_bce_weights = detach_tri_bce_weights

    def _build_model(self, embedding, n_outputs):
        width = embedding.dim  # embedding_dim, or what a custom embedding reports
        if width % (2 * self.n_heads):
            raise ValueError(
                "FCN splits every field vector into n_heads chunks and each chunk into two "
                "halves: embedding_dim must be an even multiple of n_heads (e.g. "
                f"{2 * self.n_heads * max(1, round(width / (2 * self.n_heads)))}); however: "
                f"embedding_dim={width}, n_heads={self.n_heads}"
            )
        return FCN(
            embedding.n_fields,
            width,
            n_outputs,
            branches=self.branches,
            ecn_layers=self.ecn_layers,
            lcn_layers=self.lcn_layers,
            ecn_dropout=float(self.ecn_dropout),
            lcn_dropout=float(self.lcn_dropout),
            layer_norm=self.layer_norm,
            batch_norm=self.batch_norm,
            n_heads=self.n_heads,
            tri_bce=self.tri_bce,
            detach_tri_bce_weights=self.detach_tri_bce_weights,
        )

    def _fitted_branches(self):
        return {"both": ("ecn", "lcn"), "ecn": ("ecn",), "lcn": ("lcn",)}[
            self.module_.model.branches]

    def _raw_predict(self, X, branch="fused"):
        """Logits (float64, shape (n, k)) of the fused model or of one branch."""
        check_is_fitted(self, "module_")
        if branch == "fused":
            return self._forward(X)
        if branch not in ("ecn", "lcn"):
            raise ValueError(f"branch must be 'fused', 'ecn' or 'lcn'; got {branch!r}")
        if branch not in self._fitted_branches():
            raise ValueError(
                f"branch={branch!r} is not part of this model (fitted with "
                f"branches={self.module_.model.branches!r})")

        def logits(network, batch):
            return network.model.branch_logits(network(*batch))[branch].double()

        return self._forward(X, logits)

    def mask_activity(self, X, per_field=False):
        """Share of the cross-vector entries that the Self-Mask sets to zero, per layer.

        The masked half of each cross layer's gate is ``c * ReLU(LayerNorm(c))``; an entry
        is zeroed where the mask is 0. A share near 0.5 is the LayerNorm's centring at
        work; a share that differs by field shows which fields' interactions each layer
        filters out.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame
        per_field : bool, default=False
            Also resolve the share by field (the cross vector has ``d/2`` entries per field
            and head).

        Returns
        -------
        activity : dict of str to ndarray
            For each branch (``"ecn"``, ``"lcn"``): shape ``(n_layers,)``, or
            ``(n_layers, n_fields)`` with ``per_field=True``, the share averaged over the
            rows of ``X`` (and over heads). Fields are ordered categorical first, then
            numeric (see ``encoder_.schema_``).
        """
        check_is_fitted(self, "module_")
        model = self.module_.model
        names = [name for name in self._fitted_branches()
                 if len(getattr(model, name).layers)]
        empty = np.zeros((0, model.n_fields) if per_field else 0)
        if not names:
            return {name: empty for name in self._fitted_branches()}

        def zero_counts(network, batch):
            _, masks = network.model(network.embedding(*batch), return_masks=True)
            # per branch: [1, layers, fields] zero counts summed over the batch's rows (each
            # mask [B, H, D/2] has d/2 entries per field and head); then the batch's rows
            out = [torch.stack([
                (m == 0).reshape(m.shape[0], m.shape[1], model.n_fields, -1)
                .double().mean(dim=(1, 3)).sum(0) for m in masks[name]])[None]
                for name in names]
            rows = batch[0].shape[0]
            return [*out, torch.full((1,), rows, dtype=torch.float64, device=out[0].device)]

        *sums, rows = self._forward(X, zero_counts)
        result = {name: empty for name in self._fitted_branches()}
        for name, part in zip(names, sums):
            share = part.sum(0) / rows.sum()
            result[name] = share if per_field else share.mean(1)
        return result


@fill_doc(fcn_parameters=FCN_PARAMETERS, fcn_notes=FCN_NOTES)
class FCNClassifier(NeuralClassifierMixin, ClassifierMixin, _FCNBase):
    """FCN (DCNv3) classifier: exponential and linear cross networks with Self-Mask, Tri-BCE.

    Two cross networks over the field embeddings (Li et al., 2024): the Exponential Cross
    Network doubles the interaction order per layer, the Linear Cross Network adds one;
    each cross layer gates the representation with a half-size cross vector and its
    Self-Mask view (half the parameters of a DCNv2 layer). The fused logit is the mean of
    the two branch logits; training adds each branch's own loss, weighted by how far it lags
    the fusion (Tri-BCE). Binary and multi-class.

    Parameters
    ----------
    %(fcn_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    %(common_attributes)s

    %(fcn_notes)s

    Examples
    --------
    >>> from tabnn import FCNClassifier
    >>> from tabnn.datasets import make_ctr
    >>> data = make_ctr(n_samples=2000, random_state=0)  # doctest: +SKIP
    >>> clf = FCNClassifier(random_state=0).fit(data.data, data.target)  # doctest: +SKIP
    >>> clf.predict_proba(data.data[:2], branch="ecn").shape  # doctest: +SKIP
    (2, 2)
    """

    def decision_function(self, X, branch="fused"):
        """Raw scores: shape (n,) for binary (log-odds of ``classes_[1]``), else (n, k).

        ``branch``: ``"fused"`` (the model's prediction), ``"ecn"`` or ``"lcn"``.
        """
        logits = self._raw_predict(X, branch)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict_proba(self, X, branch="fused"):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order.

        ``branch``: ``"fused"`` (the model's prediction), ``"ecn"`` or ``"lcn"`` (one
        branch's own head).
        """
        logits = self._raw_predict(X, branch)
        if logits.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X, branch="fused"):
        """Most probable class label for each row; ``branch`` as in :meth:`predict_proba`."""
        logits = self._raw_predict(X, branch)
        idx = (logits[:, 0] > 0).astype(int) if logits.shape[1] == 1 else logits.argmax(1)
        return self.classes_[idx]


@fill_doc(fcn_parameters=FCN_PARAMETERS, fcn_notes=FCN_NOTES)
class FCNRegressor(NeuralRegressorMixin, RegressorMixin, _FCNBase):
    """FCN (DCNv3) regressor: exponential and linear cross networks, three-term squared loss.

    The target is standardised for training and mapped back for ``predict``; the branch
    losses are squared errors, combined as in Tri-BCE.

    Parameters
    ----------
    %(fcn_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s

    %(fcn_notes)s
    """

    def predict(self, X, branch="fused"):
        """Predicted target for each row; ``branch``: ``"fused"``, ``"ecn"`` or ``"lcn"``."""
        return (self._raw_predict(X, branch)[:, 0] * self.target_scale_
                + self.target_mean_)
