"""Shared base of every neural estimator: validation, encoding, network building, training.

Subclasses only say how the interaction model is built (:meth:`_build_model`); the classifier
and regressor mixins below add the output head size, the loss and the target encoding.
"""

from __future__ import annotations

import copy
import inspect

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted

from .._params import (
    Boolean,
    Callbacks,
    InstanceOf,
    Interval,
    Options,
    RandomState,
    draw_seed,
    param_constraints,
    validate_params,
)
from .._validation import (
    encode_known_labels,
    validate_classification_target,
    validate_regression_target,
    validate_sample_weight,
    validate_X,
)
from ..encoding import TabularEncoder
from ..nn.embedding import EMBEDDINGS, build_embedding, uses_value_hashes
from ..nn.numeric_embedding import (
    NUMERIC_EMBEDDINGS,
    build_numeric_embedding,
    scaled_bin_edges,
    scaled_values,
)
from ..nn.network import TabularNetwork
from ..streaming import fit_source, forward_source, is_lazy_source
from ..training import (
    Stage,
    Trainer,
    TrainingConfig,
    default_callbacks,
    forward_batches,
    predict_network,
    resolve_mixed_precision,
    resolve_strategy,
    task_loss,
)

COMMON_PARAMETERS = """\
embedding : {"field", "unified", "hashed"} or embedding specification, default="field"
        How fields become vectors (:mod:`tabnn.nn.embedding`). ``"field"``: one table per
        categorical field with reserved missing / unknown rows, and a learned vector scaled
        by the value for each numeric field. ``"unified"``: all categorical fields share one
        table, looked up through per-field salted hashes of the raw values
        (:class:`~tabnn.UnifiedEmbedding`, which also sets the table size); ``"hashed"``:
        per-field hashing of the raw values (:class:`~tabnn.HashedEmbedding`). Every model
        is built from the sizes the embedding reports, so every embedding works with every
        model.
    embedding_dim : int, default=16
        Size ``d`` of every field embedding.
    numeric_embedding : {"values", "linear", "piecewise", "periodic"} or specification, \
default="values"
        How a numeric value becomes its field vector (:mod:`tabnn.nn.numeric_embedding`), in
        every embedding. ``"linear"``: a learned vector scaled by the value. ``"values"``: the
        same, plus a learned vector for each frequent value of the columns with at most 255
        distinct values of which one holds half the rows or more (zero-inflated amounts,
        sentinel codes such as 999); on tables without such columns it is ``"linear"``.
        ``"piecewise"``: a learned piecewise-linear function of the value with knots at the
        encoder's quantile bin edges (thresholds and non-monotone effects). ``"periodic"``:
        cosines and sines of the value at learned frequencies, then a linear layer and ReLU.
        Or a specification such as ``Periodic(frequency_scale=0.3)`` or
        ``WithValues(base="periodic")``. A missing value always has a vector of its own.
        ``"values"`` is the default because a scaled vector squeezes the levels of such a
        column next to its spike, where the network does not separate them before early
        stopping: on UCI adult (capital gain: 0 in 92 % of the rows) it closes the gap to
        LightGBM (validation folds in ``docs/benchmarks.md``).
    max_epochs : int, default=100
        Maximum number of passes over the training data.
    batch_size : int or "auto", default="auto"
        Rows per gradient step. ``"auto"``: ``n_samples // 64`` rounded down to a power of two,
        clipped to [64, 4096] on the CPU (4096 from 262,144 rows on) and to [64, 16384] on a
        GPU (16384 from 1,048,576 rows on), so an epoch has at least 64 steps: small data
        needs many steps, and a GPU needs large batches to be busy.
    learning_rate : float, default=3e-3
        Initial AdamW learning rate (see ``lr_schedule``).
    lr_schedule : {"plateau", "cosine", "constant"}, default="plateau"
        How the learning rate changes over epochs. ``"plateau"``: multiplied by 0.1 when the
        monitored validation value (the loss, or ``scoring``) has not improved for
        ``max(n_iter_no_change - 2, 1)`` epochs in a row, so early stopping always tries the
        lower rate for up to two epochs (with the default patience of 2: at every epoch
        without improvement); ``"cosine"``: decays along
        a half cosine from ``learning_rate`` to 1% of it at ``max_epochs`` (set
        ``max_epochs`` to your epoch budget); ``"constant"``: never changes. With early
        stopping the three end close together (AutoInt, 20,000-row CTR table of
        ``benchmarks/lr_schedule.py``: test AUC 0.8415, 0.8422, 0.8415), so the default
        stays.
    weight_decay : float, default=0.0
        AdamW (decoupled) weight decay of the dense weights (linear, attention and
        convolution layers). Embeddings (see ``embedding_l2``), biases and normalisation
        layers are never decayed.
    embedding_l2 : float, default=1e-3
        L2 penalty ``embedding_l2 / 2 * ||E||^2`` over the embedding tables, applied at every
        step (its gradient is added in place); keeps rare values from being memorised. The
        main guard against overfitting high-cardinality fields.
    early_stopping : "auto" or bool, default="auto"
        Hold out ``validation_fraction`` of the rows, stop when the validation loss (or
        ``scoring``) has not improved for ``n_iter_no_change`` epochs and restore the best
        weights. ``"auto"``: on when there are at least 1000 rows, or when ``fit`` is given
        ``X_val`` / ``y_val`` (which are then validated on instead of a held-out part of
        ``X``). ``HistGradientBoostingClassifier`` waits for 10,000 rows because one of its
        iterations is one tree; one epoch here is a full pass over the data, which overfits
        small tables within a few epochs, so a held-out check pays off from 1,000 rows.
    scoring : str, callable or None, default=None
        What early stopping (and the plateau schedule) watch on the validation data. None:
        the validation loss. A scikit-learn scorer name (``"roc_auc"``, ``"neg_log_loss"``,
        ``"accuracy"``, ``"r2"``, ...) or a callable ``scorer(estimator, X, y)`` (greater is
        better; ``estimator`` answers ``predict`` / ``predict_proba`` /
        ``decision_function`` from the epoch's validation predictions, ``X`` is the row
        index). The value is ``valid_score`` in ``history_``. The loss is the default: it
        is smoother than a ranking score, and stopping on ``"roc_auc"`` ended lower on the
        table above (test AUC 0.8362 against 0.8415).
    tol : float, default=1e-4
        Relative tolerance of early stopping and of the plateau schedule: an epoch improves
        when it beats the best value so far by more than ``tol * |best|``.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping (stratified for classifiers).
    n_iter_no_change : int, default=2 (AutoInt: 5)
        Patience of early stopping, in epochs; under the plateau schedule the learning rate
        is cut when two epochs of patience are left (see ``lr_schedule``). Smaller than the
        10 of gradient boosting because an epoch is a full pass (not one tree). AutoInt waits
        longer: its validation loss often stalls or turns up for a few epochs before the
        attention layers learn the interactions, and a patience of 2 (which also cuts the
        rate at the first such epoch) often ends the fit there ("AutoInt's start plateau" in
        ``docs/benchmarks.md``).
    warm_start : bool, default=False
        When the estimator is already fitted, ``fit`` keeps the fitted encoder and the
        network's weights and trains them further on the data it is given (the last stage
        only, with a fresh optimizer; architecture and encoder parameters of the first fit
        stay in force). For daily retraining on new logs: values the encoder has not seen
        go to the unknown code of their field (or to their hashed bucket in hashed
        columns), so refit from scratch from time to time to give new frequent values
        their own embedding. A classifier's new labels must be among ``classes_``.
    categorical_features : "auto" or list, default="auto"
        Which columns are categorical (see :class:`~tabnn.TabularEncoder`).
    min_frequency : int or float, default=10
        Values seen fewer times in training share the "unknown" embedding.
    max_cardinality : int or None, default=100_000
        Columns with more frequent values are hashed into this many buckets.
    numeric_scaling : str or None, default="quantile"
        Numeric scaling of the encoder (see :class:`~tabnn.TabularEncoder`).
    device : str, torch.device or device strategy, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; or any torch device string; or a
        strategy such as :class:`tabnn.training.SingleDevice` (e.g. to switch CUDA graphs
        off). On CUDA the training data is moved to the GPU once and the training step is
        replayed from a CUDA graph (kernel launches, not the GPU, bound small steps); results
        on CUDA are not bit-reproducible (atomic additions in the embedding gradient).
    dtype : {"float32", "float64"}, default="float32"
        Floating-point type of the network (float64 for exact reproducibility checks).
    mixed_precision : "auto" or bool, default="auto"
        Run matrix products in bfloat16 (torch autocast) with float32 weights. ``"auto"``: on
        CUDA and on CPUs with native bfloat16 instructions (AVX512-BF16 / AMX), where it is
        much faster; never with ``dtype="float64"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the initialisation, the batch order and dropout.
        The global torch random state is never changed. A seed fixes the result on one
        machine with one number of torch threads: another thread count sums the same
        terms in another order, and a model that is still sensitive to its first steps (a
        deep network on a few epochs) can end up measurably elsewhere.
    verbose : int, default=0
        0: silent; 1: one line per epoch on standard output; 2: also a progress bar over
        the batches of each epoch (tqdm, with rate and time left). Epoch lines also go to
        the ``logging.getLogger("tabnn")`` logger at DEBUG level, whatever ``verbose``.
    callbacks : list of Callback or None, default=None
        Your own :class:`tabnn.callbacks.Callback` objects (e.g. to log every epoch, or
        :class:`~tabnn.callbacks.TimeLimit` to stop on a time budget), called after the
        built-in early stopping, plateau decay and progress output."""

COMMON_ATTRIBUTES = """\
encoder_ : TabularEncoder
        The fitted encoder.
    module_ : torch.nn.Module
        The trained network (embedding + interaction model).
    history_ : list of dict
        Per epoch: ``stage``, ``epoch``, ``train_loss`` (with any penalty terms),
        ``valid_loss``, ``valid_metric`` (AUC for binary, accuracy for multi-class),
        ``learning_rate``, ``seconds``, ``valid_score`` with ``scoring``, and ``improved``
        under early stopping. The epochs of the last ``fit`` only; the last entry may be an
        epoch whose weights were discarded: the kept one is ``history_[best_iteration_ - 1]``
        (one stage).
    feature_importances_ : ndarray of shape (n_features_in_,)
        Importance of each input column, in input order: the increase of the validation loss
        when the column's values are permuted among up to 4,096 validation rows (training
        rows without early stopping), computed on first access. Unless the model has its own
        measure (ARM-Net: its attention weights).
    n_iter_ : int
        Number of epochs run (over all stages).
    best_iteration_ : int
        Epoch (of the last stage) whose weights were kept.
    device_ : str
        Device the network was trained on.
    mixed_precision_ : bool
        Whether bfloat16 autocast was used.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of str
        Input column names (only for DataFrame input with string column names).
    n_embedding_params_ : int
        Number of parameters of the embedding (tables and numeric-field vectors), to compare
        embeddings at equal budgets."""


def fill_doc(**fragments):
    """Class decorator: fill ``%(name)s`` markers of a docstring with shared text.

    ``%(common_parameters)s`` and ``%(common_attributes)s`` are always available; model
    modules pass their own fragments (e.g. the parameters shared by a classifier and a
    regressor).
    """
    fragments = {"common_parameters": COMMON_PARAMETERS,
                 "common_attributes": COMMON_ATTRIBUTES, **fragments}

    def decorate(cls):
        doc = cls.__doc__
        for name, text in fragments.items():
            doc = doc.replace(f"%({name})s", text)
        cls.__doc__ = doc
        return cls

    return decorate


def _is_device(value):
    """Whether ``value`` names a torch device or is a device strategy (not resolved here)."""
    if isinstance(value, str) and value == "auto":
        return True
    if hasattr(value, "session") and hasattr(value, "stepper"):
        return True
    try:
        return isinstance(value, (str, torch.device)) and torch.device(value) is not None
    except (RuntimeError, ValueError, TypeError):
        return False


def _power_of_two_scale(a):
    """``2**-k`` bringing ``max |a|`` into [1, 2): an exact rescaling (1 when ``a`` is 0)."""
    top = float(np.max(np.abs(a))) if len(a) else 0.0
    return 2.0 ** -np.floor(np.log2(top)) if top > 0 else 1.0


def _auto_batch_size(n, device):
    # at most 4096 on the CPU (larger batches give no more rows/s there); a GPU is launch-bound
    # at 4096 and 16384 trains 3x faster per epoch at a loss of 0.001 AUC (1M-row CTR table)
    cap = 16384 if device.type == "cuda" else 4096
    return int(np.clip(2 ** int(np.floor(np.log2(max(n // 64, 1)))), 64, cap))


def _add_class_weight(cls):
    """Give a classifier the ``class_weight`` parameter (last in its signature)."""
    inner = cls.__init__
    signature = inspect.signature(inner)
    if "class_weight" in signature.parameters:
        return

    def __init__(self, *, class_weight=None, **params):
        inner(self, **params)
        self.class_weight = class_weight

    parameter = inspect.Parameter("class_weight", inspect.Parameter.KEYWORD_ONLY, default=None)
    __init__.__signature__ = signature.replace(
        parameters=[*signature.parameters.values(), parameter])
    __init__.__doc__ = inner.__doc__
    cls.__init__ = __init__


class NeuralEstimator(BaseEstimator):
    """Base class: parameters common to every neural estimator, fit / predict skeleton.

    A model is one subclass whose ``__init__`` takes its own keyword-only parameters and
    ``**common`` (passed on to this class; the signature scikit-learn reads gets the common
    parameters added), declares its own ``_param_constraints`` and implements
    :meth:`_build_model` from the embedding it gets; it may override :meth:`_stages` (a fit
    in several phases) or :meth:`_callbacks`.
    """

    _task = None  # "binary" | "multiclass" | "regression", decided in fit
    #: epochs this model trains before its gradients say which inputs it uses (OptFS's
    #: default warm-up before its gates learn)
    _warmup_epochs = 1

    _param_constraints = {
        "embedding": [Options(*EMBEDDINGS), InstanceOf(
            object, "an embedding specification with a build() method",
            check=lambda v: callable(getattr(v, "build", None)))],
        "embedding_dim": [Interval("int", 1)],
        "numeric_embedding": [Options(*NUMERIC_EMBEDDINGS), InstanceOf(
            object, "a numeric embedding specification with a build() method",
            check=lambda v: callable(getattr(v, "build", None)))],
        "max_epochs": [Interval("int", 1)],
        "batch_size": [Options("auto"), Interval("int", 1)],
        "learning_rate": [Interval("real", 0, None, closed="neither")],
        "lr_schedule": [Options("plateau", "cosine", "constant")],
        "weight_decay": [Interval("real", 0)],
        "embedding_l2": [Interval("real", 0)],
        "early_stopping": [Options("auto"), Boolean()],
        "validation_fraction": [Interval("real", 0, 1, closed="neither")],
        "n_iter_no_change": [Interval("int", 1)],
        "scoring": [Options(None), InstanceOf(
            object, "a scikit-learn scorer name or a callable scorer(estimator, X, y)",
            check=lambda v: callable(v) or v in get_scorer_names())],
        "tol": [Interval("real", 0)],
        "warm_start": [Boolean()],
        # the encoder's parameters, checked as the encoder checks them
        **{name: param_constraints(TabularEncoder)[name] for name in (
            "categorical_features", "min_frequency", "max_cardinality", "numeric_scaling")},
        "device": [InstanceOf(object, "'auto', a torch device string or torch.device, or a "
                              "device strategy", check=_is_device)],
        "dtype": [Options("float32", "float64")],
        "mixed_precision": [Options("auto"), Boolean()],
        "random_state": [RandomState()],
        "verbose": [Interval("int", 0), Boolean()],
        "callbacks": [Callbacks()],
    }

    def __init__(
        self,
        *,
        embedding="field",
        embedding_dim=16,
        numeric_embedding="values",
        max_epochs=100,
        batch_size="auto",
        learning_rate=3e-3,
        lr_schedule="plateau",
        weight_decay=0.0,
        embedding_l2=1e-3,
        early_stopping="auto",
        scoring=None,
        tol=1e-4,
        validation_fraction=0.1,
        n_iter_no_change=2,
        warm_start=False,
        categorical_features="auto",
        min_frequency=10,
        max_cardinality=100_000,
        numeric_scaling="quantile",
        device="auto",
        dtype="float32",
        mixed_precision="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.embedding = embedding
        self.embedding_dim = embedding_dim
        self.numeric_embedding = numeric_embedding
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.embedding_l2 = embedding_l2
        self.early_stopping = early_stopping
        self.scoring = scoring
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency
        self.max_cardinality = max_cardinality
        self.numeric_scaling = numeric_scaling
        self.device = device
        self.dtype = dtype
        self.mixed_precision = mixed_precision
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    def __init_subclass__(cls, **kwargs):
        # A model's __init__ lists its own parameters and passes ``**common`` on; scikit-learn
        # reads parameters from the signature, so the common ones are written into it here:
        # every model then has exactly the base's common parameters, with the base's defaults
        # unless the model lists a common parameter itself (a default of its own).
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is not None:
            signature = inspect.signature(init)
            params = list(signature.parameters.values())
            if params[-1].kind is inspect.Parameter.VAR_KEYWORD:
                own = set(signature.parameters)
                common = [p for name, p in
                          inspect.signature(NeuralEstimator.__init__).parameters.items()
                          if name != "self" and name not in own]
                init.__signature__ = signature.replace(parameters=[*params[:-1], *common])
        if issubclass(cls, NeuralClassifierMixin):
            _add_class_weight(cls)

    # -- hooks of a model --------------------------------------------------------------------
    def _build_model(self, embedding, n_outputs):  # pragma: no cover - abstract
        """The interaction model: ``[B, F, d]`` -> logits ``[B, n_outputs]`` (or a
        ``ModelOutput``), sized from ``embedding.n_fields`` / ``.dim`` / ``.n_categorical``."""
        raise NotImplementedError

    def _stages(self):
        """The phases of a fit (default: one training stage)."""
        return [Stage("train")]

    def _callbacks(self, config):
        """Callbacks of every stage: the built-in ones, then the user's."""
        return [*default_callbacks(config), *(self.callbacks or ())]

    # -- checks ----------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- fit -------------------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the encoder and train the network.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame of shape (n_samples, n_features)
            Training data; categorical columns are detected from their dtype. A polars
            LazyFrame or parquet path(s) is read in chunks (:mod:`tabnn.streaming`).
        y : array-like of shape (n_samples,), or str for a lazy ``X``
            Target, or the name of the target column of a lazy ``X``.
        sample_weight : array-like of shape (n_samples,), or str for a lazy ``X``, default=None
            Row weights, used by the encoder's statistics and the loss; for a lazy ``X``
            also the name of a weight column (not a feature then).
        X_val : array-like, pandas or polars DataFrame of shape (n_val, n_features), default=None
            Validation rows for early stopping, used instead of holding out
            ``validation_fraction`` of ``X`` (every row of ``X`` then trains). Same columns
            as ``X``; the encoder is fitted on ``X`` only. Passing it turns early stopping on
            under ``early_stopping="auto"``; with ``early_stopping=False`` it is an error.
        y_val : array-like of shape (n_val,), default=None
            Target of ``X_val`` (for a classifier, labels that occur in ``y``).
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows in the validation loss and metric.

        Returns
        -------
        self
        """
        if is_lazy_source(X):  # out of core: read in chunks, never collected whole
            return fit_source(self, X, y, sample_weight, X_val, y_val, sample_weight_val)
        validate_params(self)
        table, target, sw = self._validate_data(X, y, sample_weight)
        validation = self._validation_data(X_val, y_val, sample_weight_val)
        seed = draw_seed(self.random_state)
        strategy = resolve_strategy(self.device)
        device = strategy.torch_device
        self.device_ = str(device)
        self.mixed_precision_ = resolve_mixed_precision(
            self.mixed_precision, device, getattr(torch, self.dtype))
        train_rows, valid_rows = self._split(target, table.n_rows, seed, validation is not None)
        if self._warm_starting():  # keep the encoder and the weights, train further
            encoded = self.encoder_.encode(table)
            network = self.module_.to(device)
        else:
            encoded = self._fit_encoder(table, sw, train_rows)
            network = self._build_network(encoded, target, sw, seed, device)
        train, valid = self._training_data(encoded, target, sw, train_rows, valid_rows,
                                           validation, device)
        self._train(network, train, valid, strategy, seed)
        if hasattr(strategy, "finish"):  # e.g. only rank 0 of a DDP run keeps the model
            strategy.finish(self)
        return self

    def _warm_starting(self):
        return bool(self.warm_start) and hasattr(self, "module_")

    def _validate_data(self, X, y, sample_weight):
        warm = self._warm_starting()
        table = validate_X(self, X, reset=not warm)
        sw = validate_sample_weight(sample_weight, table.n_rows)
        if warm:  # the target encoding (classes, scale) of the first fit stays
            target = self._encode_validation_target(y, table.n_rows, input_name="y")
        else:
            target = self._encode_target(y, table.n_rows, sw)
        return table, target, self._weigh_classes(target, sw, fit=True)

    def _check_validation_request(self, X_val, y_val, sample_weight_val):
        """Whether a validation set is given; an error for an incomplete or unusable one."""
        if X_val is None and y_val is None:
            if sample_weight_val is not None:
                raise ValueError("sample_weight_val is provided, but X_val and y_val are not.")
            return False
        if y_val is None:
            raise ValueError("X_val is provided, but y_val was not provided.")
        if X_val is None:
            raise ValueError("y_val is provided, but X_val was not provided.")
        if self.early_stopping is False:
            raise ValueError(
                "X_val and y_val are passed to fit while early_stopping=False; they are only "
                "used for early stopping: set early_stopping to 'auto' or True."
            )
        return True

    def _validation_data(self, X_val, y_val, sample_weight_val):
        """Checked ``(table, encoded target, weights)`` of a given validation set, or None."""
        if not self._check_validation_request(X_val, y_val, sample_weight_val):
            return None
        table = validate_X(self, X_val, reset=False)
        sw = validate_sample_weight(sample_weight_val, table.n_rows)
        target = self._encode_validation_target(y_val, table.n_rows)
        return table, target, self._weigh_classes(target, sw)

    def _uses_early_stopping(self, n):
        """Whether a fit on ``n`` rows stops early ("auto": from 1000 rows on)."""
        return self.early_stopping is True or (self.early_stopping == "auto" and n >= 1000)

    def _split(self, target, n, seed, has_validation_set):
        """Sorted ``(train_rows, valid_rows)``; ``valid_rows`` is None without a held-out part
        (no early stopping, or the user's own validation set)."""
        use_es = self._uses_early_stopping(n)
        rows = np.arange(n)
        if not use_es or has_validation_set:
            return rows, None
        stratify = target if self._task in ("binary", "multiclass") else None
        try:
            train_rows, valid_rows = train_test_split(
                rows, test_size=self.validation_fraction, random_state=seed, stratify=stratify)
        except ValueError:  # a class too small to stratify
            train_rows, valid_rows = train_test_split(
                rows, test_size=self.validation_fraction, random_state=seed)
        return np.sort(train_rows), np.sort(valid_rows)

    def _new_encoder(self):
        """An unfitted encoder with this estimator's encoding parameters."""
        return TabularEncoder(
            categorical_features=self.categorical_features,
            min_frequency=self.min_frequency,
            max_cardinality=self.max_cardinality,
            numeric_scaling=self.numeric_scaling,
            value_hashes=uses_value_hashes(self.embedding),
        )

    def _fit_encoder(self, table, sw, train_rows):
        """Fit ``encoder_`` on the training rows; returns the encoding of every row."""
        self.encoder_ = self._new_encoder()
        train_table = table if len(train_rows) == table.n_rows else table.take(train_rows)
        self.encoder_.fit(train_table, sample_weight=sw[train_rows])
        return self.encoder_.encode(table)

    def _build_embedding(self, encoded):
        edges = scaled_bin_edges(self.encoder_, encoded.numeric_fields)
        values = scaled_values(self.encoder_, encoded.numeric_fields)
        return build_embedding(
            self.embedding, [f.n_codes for f in encoded.categorical_fields],
            len(encoded.numeric_fields), self.embedding_dim,
            numeric=lambda dim: build_numeric_embedding(self.numeric_embedding, edges, dim,
                                                        values=values))

    def _build_network(self, encoded, target, sw, seed, device):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            embedding = self._build_embedding(encoded)
            model = self._build_model(embedding, self._n_outputs)
            network = TabularNetwork(embedding, model, self._prior_logits(target, sw))
        self.n_embedding_params_ = sum(p.numel() for p in embedding.parameters())
        return network.to(device=device, dtype=getattr(torch, self.dtype))

    def _to_tensors(self, encoded, device):
        dtype = getattr(torch, self.dtype)
        # hashed embeddings read the raw values' hashes in place of the codes
        codes = (encoded.codes if encoded.value_hashes is None
                 else encoded.value_hashes.view(np.int64))
        return (
            torch.as_tensor(codes, device=device),
            torch.as_tensor(encoded.numeric, device=device).to(dtype),
            torch.as_tensor(encoded.numeric_missing, device=device).to(dtype),
        )

    def _target_tensors(self, target, sw, device):
        dtype = getattr(torch, self.dtype)
        y = torch.as_tensor(target, device=device)
        # losses are weighted means: exact power-of-two rescaling keeps huge weights finite
        return (y if self._task == "multiclass" else y.to(dtype),
                torch.as_tensor(sw * _power_of_two_scale(sw), device=device, dtype=dtype))

    def _training_data(self, encoded, target, sw, train_rows, valid_rows, validation, device):
        """``(train, valid)`` tuples of ``(inputs, y, w)`` tensors on ``device``."""
        inputs = self._to_tensors(encoded, device)
        y, w = self._target_tensors(target, sw, device)

        def part(rows):
            idx = torch.as_tensor(rows, device=device)
            return tuple(t[idx] for t in inputs), y[idx], w[idx]

        if valid_rows is not None:
            return part(train_rows), part(valid_rows)
        valid = None
        if validation is not None:  # the user's validation set
            val_table, val_target, val_sw = validation
            valid = (self._to_tensors(self.encoder_.encode(val_table), device),
                     *self._target_tensors(val_target, val_sw, device))
        return (inputs, y, w), valid

    def _training_config(self, n_train, device):
        batch_size = (_auto_batch_size(n_train, device) if self.batch_size == "auto"
                      else int(self.batch_size))
        return TrainingConfig(
            task=self._task,
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            embedding_l2=self.embedding_l2,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            lr_schedule=self.lr_schedule,
            scoring=self._validation_scorer(),
            mixed_precision=self.mixed_precision_,
            verbose=int(self.verbose),
        )

    def _validation_scorer(self):
        """``score(logits, y, w)`` of the ``scoring`` parameter on encoded validation data,
        or None (early stopping on the loss)."""
        if self.scoring is None:
            return None
        scorer = check_scoring(self, scoring=self.scoring)
        weighted = "sample_weight" in inspect.signature(scorer).parameters
        view = _PredictionView.of(self)

        def score(logits, y, w):
            view.logits_ = logits
            rows = np.arange(len(logits))[:, None]
            kwargs = {"sample_weight": w} if weighted else {}
            return float(scorer(view, rows, self._decode_target(y), **kwargs))

        return score

    def _train(self, network, train, valid, strategy, seed):
        config = self._training_config(train[1].shape[0], strategy.torch_device)
        trainer = Trainer(network, config, strategy, self._callbacks(config), seed)
        stages = self._stages()
        if self._warm_starting():
            stages = stages[-1:]  # e.g. a retraining after a search: the search is done
        self.history_ = trainer.fit(train, valid, stages)
        self.best_iteration_ = trainer.best_epoch
        self.n_iter_ = len(self.history_)
        self.module_ = network
        # a small sample for permutation importances, computed on first access
        inputs, y, w = valid if valid is not None else train
        n = y.shape[0]
        keep = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:4096].sort()[0]
        keep = keep.to(y.device)
        self._importance_rows = (tuple(t[keep].cpu() for t in inputs), y[keep].cpu(),
                                 w[keep].cpu(), seed)
        self.__dict__.pop("_feature_importances", None)

    # -- importances -------------------------------------------------------------------------
    @property
    def feature_importances_(self):
        """Importance of each input column (see the class's Attributes)."""
        if "_feature_importances" not in self.__dict__:
            check_is_fitted(self, "module_")
            self.__dict__["_feature_importances"] = self._permutation_importances()
        return self.__dict__["_feature_importances"]

    @feature_importances_.setter
    def feature_importances_(self, value):  # a model with its own measure sets it in fit
        self.__dict__["_feature_importances"] = value

    def _field_order(self):
        """Input column position of each model field (fields are categorical first) and the
        encoder's column names."""
        schema = self.encoder_.schema_
        fields = ([s for s in schema if s.role == "categorical"]
                  + [s for s in schema if s.role != "categorical"])
        return np.array([s.index for s in fields], dtype=np.intp), [s.name for s in schema]

    def _permutation_importances(self):
        """Increase of the loss when one field's embeddings are permuted among the rows.

        Permuting the embedding output (not the input codes) is the same as permuting the
        field's values, for any embedding, and leaves every other field untouched.
        """
        inputs, y, w, seed = self._importance_rows
        device = self._predict_device()
        module = self.module_
        if next(module.parameters()).device != device:
            module.to(device)
        mixed = self.mixed_precision_ and resolve_mixed_precision("auto", device, torch.float32)
        n = y.shape[0]
        y = y if self._task == "multiclass" else y.double()
        w = w.double()
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(device)
        field = [None]

        def permute(_, __, out):
            if field[0] is None:
                return None
            if isinstance(out, (tuple, list)):  # several embeddings of the same fields
                return type(out)(permute(_, __, part) for part in out)
            out = out.clone()
            out[:, field[0]] = out[perm, field[0]]
            return out

        def loss():
            # one unpadded batch of the n rows: the permutation is over exactly those rows
            logits = torch.as_tensor(forward_batches(module, inputs, batch_size=n,
                                                     device=device, mixed_precision=mixed))
            return task_loss(self._task, logits, y, w).item()

        positions, _ = self._field_order()
        handle = module.embedding.register_forward_hook(permute)
        try:
            base = loss()
            per_field = []
            for f in range(len(positions)):
                field[0] = f
                per_field.append(loss() - base)
        finally:
            handle.remove()
        importances = np.zeros(self.n_features_in_)
        importances[positions] = per_field
        return importances

    # -- predict ---------------------------------------------------------------------------
    def _predict_device(self):
        if self.device_.startswith("cuda") and torch.cuda.is_available():
            return torch.device(self.device_)
        return torch.device("cpu")

    def _forward(self, X, fn=None):
        """The one batched forward pass over ``X``: ``fn(network, batch)`` per batch,
        concatenated (default: float64 logits of shape (n, k)); see ``forward_batches``."""
        check_is_fitted(self, "module_")
        if is_lazy_source(X):  # parquet / LazyFrame: chunk by chunk
            return forward_source(self, X, lambda chunk: self._forward(chunk, fn))
        encoded = self.encoder_.encode(validate_X(self, X, reset=False))
        device = self._predict_device()
        module = self.module_
        if next(module.parameters()).device != device:
            module.to(device)
        mixed = self.mixed_precision_ and resolve_mixed_precision("auto", device, torch.float32)
        inputs = self._to_tensors(encoded, device)
        if fn is None:
            return predict_network(module, inputs, None, device, mixed)
        return forward_batches(module, inputs, fn, None, device, mixed)

    def _raw_predict(self, X):
        """Logits (float64 numpy array of shape (n, k)) for ``X``."""
        return self._forward(X)

    # -- persistence -------------------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        module = state.get("module_")
        if module is not None and next(module.parameters()).device.type != "cpu":
            state["module_"] = copy.deepcopy(module).cpu()
        return state


class NeuralClassifierMixin:
    """Classifier half of a neural estimator: label encoding, class weights, sigmoid /
    softmax output."""

    _param_constraints = {
        "class_weight": [Options(None, "balanced"),
                         InstanceOf(dict, "a dict {class label: weight}")],
    }

    def _weigh_classes(self, codes, sample_weight, fit=False):
        """``sample_weight`` times the weight of each row's class (``class_weight``), as
        :func:`sklearn.utils.class_weight.compute_sample_weight`; "balanced" is computed
        from the training target (``fit=True``) and reused for validation rows."""
        if getattr(self, "class_weight", None) is None:
            return sample_weight
        if fit:
            self._class_weights = compute_class_weight(
                self.class_weight, classes=self.classes_, y=self.classes_[codes])
        return sample_weight * self._class_weights[codes]

    def _decode_target(self, codes):
        return self.classes_[np.asarray(codes).astype(np.intp)]

    def _encode_target(self, y, n, sample_weight):
        self.classes_, codes = validate_classification_target(y, n)
        self._task = "binary" if len(self.classes_) == 2 else "multiclass"
        self._n_outputs = 1 if self._task == "binary" else len(self.classes_)
        return codes

    def _encode_validation_target(self, y, n, input_name="y_val"):
        return encode_known_labels(y, self.classes_, n, input_name=input_name)

    def _prior_logits(self, codes, sample_weight):
        prior = np.bincount(codes, weights=sample_weight, minlength=len(self.classes_))
        prior = np.clip(prior / prior.sum(), 1e-6, 1.0)
        if self._task == "binary":
            return np.log(prior[1:] / prior[0])
        return np.log(prior) - np.log(prior).mean()

    def decision_function(self, X):
        """Raw scores: shape (n,) for binary (log-odds of ``classes_[1]``), else (n, k)."""
        logits = self._raw_predict(X)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        logits = self._raw_predict(X)
        if logits.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.column_stack([1.0 - p, p])
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class label for each row (same dtype as the training labels)."""
        logits = self._raw_predict(X)
        idx = (logits[:, 0] > 0).astype(int) if logits.shape[1] == 1 else logits.argmax(1)
        return self.classes_[idx]


class NeuralRegressorMixin:
    """Regressor half of a neural estimator: standardised target, squared loss."""

    def _encode_target(self, y, n, sample_weight):
        y = validate_regression_target(y, n)
        self._task = "regression"
        self._n_outputs = 1
        # moments of y and weights rescaled by exact powers of two: no overflow near 1e308
        y_unit, w = _power_of_two_scale(y), sample_weight * _power_of_two_scale(sample_weight)
        mean = float(np.average(y * y_unit, weights=w))
        std = float(np.sqrt(np.average((y * y_unit - mean) ** 2, weights=w)))
        self.target_mean_, self.target_scale_ = mean / y_unit, (std if std > 0 else 1.0) / y_unit
        return (y * y_unit - mean) / (std if std > 0 else 1.0)

    def _encode_validation_target(self, y, n, input_name="y_val"):
        y = validate_regression_target(y, n)
        return (y - self.target_mean_) / self.target_scale_

    def _weigh_classes(self, target, sample_weight, fit=False):
        return sample_weight

    def _decode_target(self, target):
        return np.asarray(target, dtype=np.float64) * self.target_scale_ + self.target_mean_

    def _prior_logits(self, target, sample_weight):
        return np.zeros(1)  # the target is standardised

    def predict(self, X):
        """Predicted target for each row."""
        return self._raw_predict(X)[:, 0] * self.target_scale_ + self.target_mean_


class _PredictionView:
    """What a scikit-learn scorer needs of an estimator, answered from fixed logits.

    Early stopping on ``scoring`` scores the logits of an epoch's validation pass; ``X`` is
    then the row index into them.
    """

    @staticmethod
    def of(estimator):
        if isinstance(estimator, NeuralClassifierMixin):
            view = _ClassifierView()
            view.classes_ = estimator.classes_
        else:
            view = _RegressorView()
            view.target_mean_ = estimator.target_mean_
            view.target_scale_ = estimator.target_scale_
        return view

    def _raw_predict(self, X):
        return self.logits_[np.asarray(X).ravel().astype(np.intp)]


class _ClassifierView(_PredictionView, NeuralClassifierMixin, ClassifierMixin, BaseEstimator):
    pass


class _RegressorView(_PredictionView, NeuralRegressorMixin, RegressorMixin, BaseEstimator):
    pass
