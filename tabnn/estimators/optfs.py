"""OptFS (learnable feature-value gates, learning by continuation) as meta-estimators over
any neural tabnn estimator."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
)
from sklearn.utils.validation import check_is_fitted

from .._params import InstanceOf, Interval, Options, RandomState, draw_seed, validate_params
from ..callbacks import Callback
from ..encoding import MISSING, UNKNOWN
from ..nn.embedding import EMBEDDINGS, FieldEmbedding, build_embedding
from ..nn.optfs import (
    GatedEmbedding,
    PrunedEmbedding,
    prune_codes,
    pruned_cardinalities,
    value_offsets,
)
from ._base import NeuralEstimator, fill_doc

__all__ = ["OptFSClassifier", "OptFSRegressor"]

OPTFS_PARAMETERS = """\
gate_penalty : float, default=0.3
        Price of a kept value in total training loss (nats of log-loss summed over the
        training rows): the search minimises the paper's objective, the mean task loss plus
        ``lambda * sum_i sigmoid(T * m_i)`` over all values, with
        ``lambda = gate_penalty / n_train_rows``. Larger prunes more. The paper's ``lambda``
        (2e-9 to 1e-8 on about 36M Criteo / 32M Avazu training rows) is a ``gate_penalty`` of
        about 0.06 to 0.4.
    final_temperature : float, default=1000.0
        Temperature ``T`` of the last search step. ``T`` rises geometrically at every step
        after the warm-up, from 1 to ``final_temperature`` at the last step of the search,
        however few steps it has, so gates start soft and end as a step function of their
        logits (learning by continuation).
    search_epochs : int, default=10
        Epochs of the search; it always runs them all.
    warmup_epochs : int, "auto" or None, default=None
        First search epochs with every gate open and fixed (temperature 1): the backbone
        learns before its gates do. Gate gradients of an untrained network say little about
        a value's use, and the gates' decisions are made early in the schedule (soon after a
        logit's ``|T m|`` is a few units it barely moves). Must be below ``search_epochs``.
        None: the backbone's own number, 3 for AutoInt and 1 for the others (at most
        ``search_epochs - 1``). A model that needs a few epochs to learn its interactions
        (AutoInt) otherwise has gates decided before them on large tables, which prune the
        values the interactions use: with one epoch AutoInt lost 0.06 AUC in one seed of
        three on a 300k-row table, with 3 none did; FCN does best with one.
        ``"auto"``: until an epoch lowers the backbone's best validation loss by less than
        1 %, at most half the search (it can stop at a plateau of the loss before an
        interaction is learnt).
    rewind_epoch : int, default=0
        The retraining starts from the backbone's weights at the start of this search epoch
        (0: its initial weights; the paper tunes 0 to ``E - 1``). Must be below
        ``search_epochs``.
    gate_learning_rate : float, default=3.0
        Step size of the gate logits' plain gradient descent, in units of the penalty and the
        search length: the step is ``gate_learning_rate / (steps * lambda)``, so the gate of
        a value that lowers the loss by nothing is pushed down by ``gate_learning_rate``
        times the mean over the search of ``T * sigmoid'(T m)`` (about 0.1 at ``m = 0.5``),
        whatever the penalty, the data size or the number of steps. Larger decides faster
        but on noisier gradients.
    mask_init : float, default=0.5
        Initial gate logit ``m0 > 0`` (the paper's). Gates are ``sigmoid(T * m) /
        sigmoid(m0)``, exactly 1 at the start, and ``1 / sigmoid(m0)`` for kept values at the
        end of the search; the retrained embedding starts from the rewound vectors times that
        factor.
    random_state : int, RandomState instance or None, default=None
        Seed of both fits of the backbone (one integer seed for the search and the
        retraining, so both see the same validation split, encoder codes and batch order).
        An integer is the backbone's own ``random_state`` in both fits, so OptFS and the
        backbone fitted alone with the same integer start from the same weights. None: the
        backbone's own ``random_state``."""

OPTFS_ATTRIBUTES = """\
estimator_ : estimator
        The backbone retrained on the kept values (a fitted clone of ``estimator`` whose
        embedding maps pruned values to their field's unknown code); predictions come from it.
    search_history_ : list of dict
        The search's per-epoch history (with ``temperature`` and ``kept_ratio``).
    gate_logits_ : ndarray of shape (n_values,)
        Gate logits at the end of the search, one per (categorical field, code), fields in
        encoder order, codes within a field from 0 (missing), 1 (unknown), then vocabulary.
    value_support_ : dict of str to ndarray of bool
        Per categorical field: which codes keep their own vector (``gate_logits_ > 0``).
    support_ : dict of str to float
        Per categorical field: the kept fraction of its codes.
    selected_values_ : dict of str to list
        Per categorical field: the kept values by name (``"<missing>"`` and ``"<unknown>"``
        for the reserved codes, ``"<bucket k>"`` for hashed fields).
    n_values_ : int
        Number of (field, code) values that had a gate.
    n_values_kept_ : int
        Number of them kept.
    kept_ratio_ : float
        ``n_values_kept_ / n_values_`` (1.0 without categorical fields).
    embedding_parameters_ : dict
        ``{"backbone": ..., "pruned": ...}``: parameters of the ungated backbone's embedding
        and of the retrained (pruned) one.
    embedding_memory_saved_ : int
        Bytes saved by the pruned embedding: fewer parameters, minus its code-remapping table
        (one int32 per encoder code).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names (only for DataFrame input with string column names)."""

OPTFS_NOTES = """\
Notes
    -----
    Why a meta-estimator and not a parameter of every neural estimator: OptFS is a training
    schedule around an embedding (search with gates, select, rewind, retrain), not part of any
    model. As a wrapper it works with every neural estimator, present and future, through two
    public seams only -- the ``embedding`` parameter (a gated, then a pruned embedding wrapping
    the backbone's own) and ``callbacks`` (the temperature schedule and the rewind) -- and
    its parameters and fitted attributes stay out of the backbones' signatures. The backbone is
    fitted twice with the same integer seed, so both fits see the same validation split and
    encoder codes.

    Deviations from the official code, on purpose: (1) the gate logits take plain
    gradient-descent steps (the backbone's optimiser trains the rest), where the official code
    uses Adam: Adam normalises every gradient to a step of about its learning rate, so the
    gates of values absent from a batch move on the penalty (and momentum) alone by that much
    whatever ``lambda`` is, which is what prunes rare values there; here a gate moves by its
    gradient, the task's (zero when absent) plus the penalty's; (2) the temperature rises at
    every step over the whole search (the official code raises it once per epoch, large jumps
    with few epochs), after the warm-up; (3) the temperature reaches every backbone (the
    gates live in the embedding), where the official IPNN ignores it. Numeric fields are not gated (the paper bucketises
    them); make a numeric column categorical to gate its values. Without categorical fields
    nothing is gated and the result is the backbone trained twice."""


def _is_neural(kind):
    def check(value):
        return isinstance(value, NeuralEstimator) and isinstance(value, kind)
    return check


class _GatedSpec:
    """Embedding specification of the search: the backbone's embedding wrapped in gates."""

    def __init__(self, base, mask_init):
        self.base, self.mask_init = base, mask_init

    def build(self, cardinalities, n_numeric, dim, **options):
        inner = build_embedding(self.base, cardinalities, n_numeric, dim, **options)
        return GatedEmbedding(inner, cardinalities, self.mask_init)


class _PrunedSpec:
    """Embedding specification of the retraining: the backbone's embedding of the kept codes."""

    def __init__(self, base, cardinalities, kept):
        self.base, self.cardinalities, self.kept = base, list(cardinalities), kept

    def build(self, cardinalities, n_numeric, dim, **options):
        if list(cardinalities) != self.cardinalities:
            raise RuntimeError(
                "OptFS: the retraining's encoder differs from the search's (codes per field "
                f"{list(cardinalities)} vs {self.cardinalities}); the data must not change "
                "between the two fits")
        inner = build_embedding(self.base, pruned_cardinalities(cardinalities, self.kept),
                                n_numeric, dim, **options)
        return PrunedEmbedding(inner, cardinalities, self.kept)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class _Search(Callback):
    """The search schedule: the temperature raised at every step, a gradient-descent step of
    the gate logits after every optimiser step, the rewind checkpoint, and the gates of the
    last step kept (not early stopping's best epoch)."""

    #: "auto" warm-up: ends after an epoch that lowers the best validation loss by less than
    #: this share of it
    warmup_tolerance = 0.01

    def __init__(self, penalty, gate_learning_rate, final_temperature, epochs, warmup_epochs,
                 rewind_epoch):
        self.penalty, self.gate_learning_rate = penalty, gate_learning_rate
        self.warmup_epochs = warmup_epochs
        self.final_temperature, self.epochs = final_temperature, epochs
        self.rewind_epoch = rewind_epoch
        self.rewind_state_, self.gates_ = None, None

    def _embedding(self, trainer):
        return trainer.network.embedding

    def on_train_begin(self, trainer):
        embedding = self._embedding(trainer)
        embedding.before.copy_(embedding.gate_params.detach())
        self.learning_rate_ = float(trainer.optimizer.param_groups[0]["lr"])
        n = trainer.train[1].shape[0]
        self.n_batches_ = -(-n // trainer.config.batch_size)
        # lambda of the paper's objective (mean loss + lambda * sum of all gates): the price
        # of a value in total training loss, spread over the rows
        self.strength_ = embedding.strength = self.penalty / n
        # the gates stay at their initial logit (temperature 1) while the backbone warms up:
        # the gate gradients of an untrained network would decide the kept set by noise
        self.warmup_done_, self.best_loss_ = 0, float("inf")
        self.step_, self.steps_ = 0, 1
        self.warming_ = self._max_warmup() > 0
        if not self.warming_:
            self._start_gates()
        self._set_temperature(trainer)

    def _max_warmup(self):
        # "auto": at most half the search
        return self.epochs // 2 if self.warmup_epochs == "auto" else self.warmup_epochs

    def _start_gates(self):
        self.warming_ = False
        self.step_ = 0
        self.steps_ = (self.epochs - self.warmup_done_) * self.n_batches_
        # a value that lowers the loss by nothing has its logit pushed down by
        # gate_learning_rate * T * sigmoid'(T m) per step / steps: a fixed total over the
        # search, whatever the penalty, the data size or the number of steps
        self.step_size_ = self.gate_learning_rate / (self.steps_ * self.strength_)

    def _warmed_up(self, trainer):
        if self.warmup_epochs != "auto":
            return self.warmup_done_ >= self.warmup_epochs
        # until the backbone's validation loss levels off (large data: the interactions take
        # a few epochs, and gates decided before them prune the values they need)
        loss = trainer.record.get("valid_loss")
        if loss is None:  # no validation rows: nothing to wait for
            return True
        done = (self.warmup_done_ >= self._max_warmup()
                or loss > self.best_loss_ * (1 - self.warmup_tolerance))
        self.best_loss_ = min(self.best_loss_, loss)
        return done

    def _set_temperature(self, trainer):
        t = 1.0 if self.warming_ else self.final_temperature ** (
            min(self.step_, self.steps_ - 1) / max(self.steps_ - 1, 1))
        self._embedding(trainer).temperature.fill_(t)

    def on_epoch_begin(self, trainer):
        if trainer.epoch - 1 == self.rewind_epoch and self.rewind_state_ is None:
            self.rewind_state_ = _state(trainer.network)

    def on_batch_end(self, trainer, batch, n_batches):
        # in the warm-up a step of 0: it still undoes what the optimiser did to the logits
        self._embedding(trainer).gate_step(0.0 if self.warming_ else self.step_size_)
        if not self.warming_:
            self.step_ += 1
            self._set_temperature(trainer)

    def on_epoch_end(self, trainer):
        # a constant learning rate (as in the paper): undo any plateau decay of this epoch
        lr = float(trainer.optimizer.param_groups[0]["lr"])
        if lr != self.learning_rate_:
            trainer.scale_learning_rate(self.learning_rate_ / lr)
        embedding = self._embedding(trainer)
        trainer.record["temperature"] = float(embedding.temperature)
        trainer.record["warm_up"] = self.warming_
        if self.warming_:
            self.warmup_done_ += 1
            if self._warmed_up(trainer):
                self._start_gates()
        self.gates_ = embedding.gate_params.detach().clone()
        n = self.gates_.numel()
        trainer.record["kept_ratio"] = float((self.gates_ > 0).sum()) / n if n else 1.0

    def on_train_end(self, trainer):
        with torch.no_grad():
            self._embedding(trainer).gate_params.copy_(self.gates_)


class _Rewind(Callback):
    """Loads the rewound search weights into the pruned network before the retraining."""

    def __init__(self, state, kept, cardinalities, scale):
        self.state, self.kept, self.cardinalities, self.scale = state, kept, cardinalities, scale

    def on_train_begin(self, trainer):
        if self.state is None:  # only before the first stage
            return
        network = trainer.network
        new = network.state_dict()
        for key, value in self.state.items():
            if key.startswith("embedding."):
                continue
            new[key] = value
        old_inner = {k.removeprefix("embedding.inner."): v for k, v in self.state.items()
                     if k.startswith("embedding.inner.")}
        # parameters only: buffers (the table's field offsets) belong to the new numbering
        for key, value in network.embedding.inner.named_parameters():
            if key in old_inner and old_inner[key].shape == value.shape:
                new["embedding.inner." + key] = old_inner[key]
        if isinstance(network.embedding.inner, FieldEmbedding) and "table.weight" in old_inner:
            new["embedding.inner.table.weight"] = self._table(
                old_inner["table.weight"], new["embedding.inner.table.weight"])
        network.load_state_dict(new)
        self.state = None

    def _table(self, old, new):
        """Rows of the kept values of the rewound table at their new place, times the gate
        scale; other rows (an unknown or missing code whose gate closed) start at 0, as under
        hard gates."""
        new = torch.zeros_like(new)
        codes, new_cards = prune_codes(self.cardinalities, self.kept)
        new_offsets = value_offsets(new_cards)
        src = np.flatnonzero(self.kept)
        field = np.searchsorted(value_offsets(self.cardinalities), src, side="right") - 1
        dst = new_offsets[field] + codes[src]
        new[torch.as_tensor(dst, device=new.device)] = (
            old[torch.as_tensor(src, device=old.device)].to(new.device) * self.scale)
        return new


class _OptFSBase(MetaEstimatorMixin):
    def __init__(self, estimator=None, *, gate_penalty=0.3, final_temperature=1000.0,
                 search_epochs=10, warmup_epochs=None, rewind_epoch=0, gate_learning_rate=3.0,
                 mask_init=0.5, random_state=None):
        self.estimator = estimator
        self.gate_penalty = gate_penalty
        self.final_temperature = final_temperature
        self.search_epochs = search_epochs
        self.warmup_epochs = warmup_epochs
        self.rewind_epoch = rewind_epoch
        self.gate_learning_rate = gate_learning_rate
        self.mask_init = mask_init
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _backbone(self):
        return self._default_estimator() if self.estimator is None else self.estimator

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Search the gates, select the kept values, retrain the backbone on them.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights.
        X_val, y_val, sample_weight_val : default=None
            Validation data for the backbone's early stopping (see its ``fit``).

        Returns
        -------
        self
        """
        validate_params(self)
        if self.rewind_epoch >= self.search_epochs:
            raise ValueError(
                f"rewind_epoch must be below search_epochs (a search epoch to rewind to); "
                f"however: rewind_epoch={self.rewind_epoch}, search_epochs={self.search_epochs}")
        if self.warmup_epochs not in (None, "auto") and (
                self.warmup_epochs >= self.search_epochs):
            raise ValueError(
                f"warmup_epochs must be below search_epochs (epochs left to learn the gates); "
                f"however: warmup_epochs={self.warmup_epochs}, "
                f"search_epochs={self.search_epochs}")
        backbone = self._backbone()
        warmup = (min(backbone._warmup_epochs, self.search_epochs - 1)
                  if self.warmup_epochs is None else self.warmup_epochs)
        base = EMBEDDINGS.get(backbone.embedding) if isinstance(backbone.embedding, str) else (
            backbone.embedding)
        if getattr(base, "uses_value_hashes", False):
            raise ValueError(
                f"OptFS gates the encoder's vocabulary codes; the backbone's embedding "
                f"{backbone.embedding!r} reads raw value hashes instead: use an embedding "
                f"that reads codes (e.g. 'field')")
        # one integer seed for both fits: same validation split, encoder codes, batch order;
        # an integer is passed on as it is, so the retraining with every value kept is the
        # backbone fitted alone with that random_state but for the paper's 1/sigmoid(mask_init)
        # on its table rows (a paired comparison: level with the backbone under 5-fold CV,
        # docs/benchmarks.md)
        random_state = (backbone.random_state if self.random_state is None
                        else self.random_state)
        seed = (int(random_state) if isinstance(random_state, numbers.Integral)
                else draw_seed(random_state))
        user_callbacks = list(backbone.callbacks or ())
        fit_args = dict(sample_weight=sample_weight, X_val=X_val, y_val=y_val,
                        sample_weight_val=sample_weight_val)

        search = _Search(float(self.gate_penalty), float(self.gate_learning_rate),
                         float(self.final_temperature), self.search_epochs, warmup,
                         self.rewind_epoch)
        searcher = clone(backbone).set_params(
            embedding=_GatedSpec(backbone.embedding, float(self.mask_init)),
            max_epochs=self.search_epochs, n_iter_no_change=self.search_epochs,
            random_state=seed, callbacks=[search, *user_callbacks])
        searcher.fit(X, y, **fit_args)
        gated = searcher.module_.embedding
        cards = list(gated.cardinalities)
        kept = gated.kept()
        self.search_history_ = searcher.history_
        self.gate_logits_ = gated.gate_logits.detach().cpu().double().numpy()

        scale = 1.0 / (1.0 + np.exp(-float(self.mask_init)))
        rewind = _Rewind(search.rewind_state_, kept, cards, 1.0 / scale)
        self.estimator_ = clone(backbone).set_params(
            embedding=_PrunedSpec(backbone.embedding, cards, kept),
            random_state=seed, callbacks=[rewind, *user_callbacks])
        self.estimator_.fit(X, y, **fit_args)
        self.estimator_.set_params(callbacks=backbone.callbacks)

        self._report(searcher, kept, cards)
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def _report(self, searcher, kept, cards):
        fields = [f for f in searcher.encoder_.schema_ if f.role == "categorical"]
        self.value_support_, self.support_, self.selected_values_ = {}, {}, {}
        for field, start, card in zip(fields, value_offsets(cards), cards):
            mask = np.asarray(kept[start : start + card], dtype=bool)
            self.value_support_[field.name] = mask
            self.support_[field.name] = float(mask.mean())
            self.selected_values_[field.name] = [_value_name(field, c)
                                                 for c in np.flatnonzero(mask)]
        self.n_values_ = int(sum(cards))
        self.n_values_kept_ = int(np.sum(kept))
        self.kept_ratio_ = self.n_values_kept_ / self.n_values_ if self.n_values_ else 1.0
        before = sum(p.numel() for p in searcher.module_.embedding.inner.parameters())
        pruned = self.estimator_.module_.embedding
        after = sum(p.numel() for p in pruned.inner.parameters())
        self.embedding_parameters_ = {"backbone": int(before), "pruned": int(after)}
        itemsize = next(pruned.inner.parameters()).element_size()
        self.embedding_memory_saved_ = int(
            (before - after) * itemsize - pruned.remap.numel() * pruned.remap.element_size())

    # -- prediction: the retrained backbone's -----------------------------------------------
    def predict(self, X):
        """Prediction of the retrained backbone (see its ``predict``)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @property
    def feature_importances_(self):
        """The retrained backbone's ``feature_importances_``, one per input column."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.feature_importances_


def _value_name(field, code):
    if code == MISSING:
        return "<missing>"
    if code == UNKNOWN:
        return "<unknown>"
    if field.categories is None:
        return f"<bucket {code - 2}>"
    return field.categories[code - 2]


_CONSTRAINTS = {
    "gate_penalty": [Interval("real", 0, None, closed="neither")],
    "final_temperature": [Interval("real", 1, None)],
    "search_epochs": [Interval("int", 1)],
    "warmup_epochs": [Interval("int", 0), Options("auto", None)],
    "rewind_epoch": [Interval("int", 0)],
    "gate_learning_rate": [Interval("real", 0, None, closed="neither")],
    "mask_init": [Interval("real", 0, None, closed="neither")],
    "random_state": [RandomState()],
}


class OptFSClassifier(ClassifierMixin, _OptFSBase, BaseEstimator):
    """OptFS feature-value selection around any neural classifier (Lyu et al., WWW 2023).

    Every value of every categorical field (every encoder code, reserved missing and unknown
    codes included) gets a learnable gate on its embedding. A search of ``search_epochs``
    epochs trains the backbone with the gates and a penalty pushing them closed, raising the
    gates' temperature at every step after a warm-up until they are step functions
    (learning by continuation).
    The values whose gate logit ends above 0 are kept; the backbone is then retrained from its
    rewound weights on an embedding holding only the kept values, every pruned value mapped to
    its field's unknown code, and predicts with that smaller embedding.

    Parameters
    ----------
    estimator : neural tabnn classifier or None, default=None
        The backbone (unfitted), e.g. ``AutoIntClassifier(...)`` or ``FCNClassifier(...)``;
        its own parameters (epochs, early stopping, embedding, device, ``random_state``)
        apply to both the search and the retraining. None: ``AutoIntClassifier()``.
    %(optfs_parameters)s

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    %(optfs_attributes)s

    See Also
    --------
    OptFSRegressor : The same for regression.

    %(optfs_notes)s

    References
    ----------
    F. Lyu, X. Tang, D. Liu, L. Chen, X. He, X. Liu. "Optimizing Feature Set for
    Click-Through Rate Prediction". The Web Conference (WWW) 2023, arXiv:2301.10909.

    Examples
    --------
    >>> from tabnn import AutoIntClassifier, OptFSClassifier
    >>> from tabnn.datasets import make_ctr
    >>> X, y = make_ctr(5_000, n_categorical=6, n_numeric=2, n_noise=2, random_state=0,
    ...                 return_X_y=True)
    >>> clf = OptFSClassifier(AutoIntClassifier(max_epochs=5, random_state=0),
    ...                       search_epochs=4).fit(X, y)
    >>> 0 < clf.kept_ratio_ <= 1
    True
    """

    _param_constraints = {
        "estimator": [Options(None), InstanceOf(
            NeuralEstimator, "None or an unfitted neural tabnn classifier",
            check=_is_neural(ClassifierMixin))],
        **_CONSTRAINTS,
    }

    @staticmethod
    def _default_estimator():
        from .autoint import AutoIntClassifier

        return AutoIntClassifier()

    @property
    def classes_(self):
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def predict_proba(self, X):
        """Class probabilities of the retrained backbone, shape (n_samples, n_classes)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def decision_function(self, X):
        """Raw scores of the retrained backbone (see its ``decision_function``)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)


class OptFSRegressor(RegressorMixin, _OptFSBase, BaseEstimator):
    """OptFS feature-value selection around any neural regressor (Lyu et al., WWW 2023).

    See :class:`OptFSClassifier` for the method; the search and the retraining minimise the
    backbone's squared error.

    Parameters
    ----------
    estimator : neural tabnn regressor or None, default=None
        The backbone (unfitted), e.g. ``AutoIntRegressor(...)``. None: ``AutoIntRegressor()``.
    %(optfs_parameters)s

    Attributes
    ----------
    %(optfs_attributes)s

    See Also
    --------
    OptFSClassifier : The same for classification.

    %(optfs_notes)s
    """

    _param_constraints = {
        "estimator": [Options(None), InstanceOf(
            NeuralEstimator, "None or an unfitted neural tabnn regressor",
            check=_is_neural(RegressorMixin))],
        **_CONSTRAINTS,
    }

    @staticmethod
    def _default_estimator():
        from .autoint import AutoIntRegressor

        return AutoIntRegressor()


for _cls in (OptFSClassifier, OptFSRegressor):
    fill_doc(optfs_parameters=OPTFS_PARAMETERS, optfs_attributes=OPTFS_ATTRIBUTES,
             optfs_notes=OPTFS_NOTES)(_cls)
