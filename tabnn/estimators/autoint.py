"""AutoInt and AutoInt+ as scikit-learn estimators."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from .._params import Boolean, Interval, IntSequence, Options
from ..nn.autoint import AutoInt
from ._base import NeuralClassifierMixin, NeuralEstimator, NeuralRegressorMixin, fill_doc

__all__ = ["AutoIntClassifier", "AutoIntRegressor"]

AUTOINT_PARAMETERS = """\
attention_layers : int, default=3
        Number of interacting layers.
    attention_heads : int, default=2
        Attention heads per layer.
    attention_head_dim : int, default=8
        Size of each head (the layer output has ``heads * head_dim`` values per field). The
        paper's 32 costs several times the time for no better score on the CTR and real
        tables of ``docs/benchmarks.md``; 8 is also deepctr-torch's size.
    use_scale : bool, default=True
        Scale attention scores by ``1 / sqrt(attention_head_dim)``.
    layer_norm : bool, default=False
        Layer normalisation after each interacting layer.
    dnn_hidden : tuple of int, default=(256, 128)
        Hidden sizes of the parallel DNN of AutoInt+ (its logit is added to the attention
        logit); ``()`` gives plain AutoInt. On by default: attention alone is weak on
        CTR-like tables where much of the signal is in the fields' main effects.
    dropout : float, default=0.0
        Dropout on attention weights and in the DNN.
    attend_numeric : bool, default=False
        Whether numeric fields take part in the attention (as in the paper). ``False`` sends
        their embeddings to the output layer and the DNN only, as deepctr-torch does with
        dense columns: attention cost grows with the square of the number of attended
        fields, and a single scaled vector per numeric value gives attention little to
        work with, so the DNN handles them as well for less time. Without categorical
        columns nothing is attended (the model is then the DNN plus a linear output layer);
        set ``True`` to attend every field and see all of them in :meth:`attention_maps`."""


class _AutoIntBase(NeuralEstimator):
    # attention learns the interactions a few epochs in: gates decided after one epoch pruned
    # their values in one seed of three on a 300k-row table (docs/benchmarks.md, "OptFS")
    _warmup_epochs = 3

    _param_constraints = {
        "attention_layers": [Interval("int", 0)],
        "attention_heads": [Interval("int", 1)],
        "attention_head_dim": [Interval("int", 1)],
        "use_scale": [Boolean()],
        "layer_norm": [Boolean()],
        "dnn_hidden": [IntSequence(1), Options(None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "attend_numeric": [Boolean()],
    }

    def __init__(
        self,
        *,
        attention_layers=3,
        attention_heads=2,
        attention_head_dim=8,
        use_scale=True,
        layer_norm=False,
        dnn_hidden=(256, 128),
        dropout=0.0,
        attend_numeric=False,
        n_iter_no_change=5,
        **common,
    ):
        # a patience of its own: see n_iter_no_change in the common parameters
        super().__init__(n_iter_no_change=n_iter_no_change, **common)
        self.attention_layers = attention_layers
        self.attention_heads = attention_heads
        self.attention_head_dim = attention_head_dim
        self.use_scale = use_scale
        self.layer_norm = layer_norm
        self.dnn_hidden = dnn_hidden
        self.dropout = dropout
        self.attend_numeric = attend_numeric

    def _build_model(self, embedding, n_outputs):
        return AutoInt(
            embedding.n_fields,
            embedding.dim,
            n_outputs,
            attention_layers=self.attention_layers,
            attention_heads=self.attention_heads,
            attention_head_dim=self.attention_head_dim,
            use_scale=self.use_scale,
            layer_norm=self.layer_norm,
            dnn_hidden=tuple(self.dnn_hidden or ()),
            dropout=float(self.dropout),
            n_attended=None if self.attend_numeric else embedding.n_categorical,
        )

    def attention_maps(self, X, return_fields=False):
        """Per-row attention weights of every interacting layer, fields in input order.

        Parameters
        ----------
        X : array-like, pandas or polars DataFrame
        return_fields : bool, default=False
            Also return the names of the attended fields.

        Returns
        -------
        maps : list of ndarray, one per layer, each of shape (n_samples, heads, F, F)
            ``maps[l][i, h, f, g]`` is how much field ``f`` attends to field ``g`` for row
            ``i``. Fields are in the order of the input columns; with
            ``attend_numeric=False`` only the categorical fields are attended.
        fields : list of str
            Only with ``return_fields=True``: the column name of each field of the maps
            (``x0``, ``x1``, ... for input without column names).
        """
        def maps(network, batch):
            _, layers = network.model(network.embedding(*batch), return_attention=True)
            return [m.float() for m in layers]

        layers = self._forward(X, maps)
        positions, _ = self._field_order()
        n_attended = layers[0].shape[-1] if layers else 0
        order = np.argsort(positions[:n_attended], kind="stable")
        layers = [m[:, :, order][:, :, :, order] for m in layers]
        if not return_fields:
            return layers
        name_of = {spec.index: str(spec.name) for spec in self.encoder_.schema_}
        return layers, [name_of[positions[i]] for i in order]


@fill_doc(autoint_parameters=AUTOINT_PARAMETERS)
class AutoIntClassifier(NeuralClassifierMixin, ClassifierMixin, _AutoIntBase):
    """AutoInt classifier: self-attention over field embeddings (binary and multi-class).

    Multi-head self-attentive interacting layers with residual connections learn feature
    interactions of growing order (Song et al., CIKM 2019). A parallel feed-forward network on
    the flat embeddings is added by default (AutoInt+); ``dnn_hidden=()`` gives plain AutoInt.
    The defaults are chosen for time as much as score: 3 layers of 2 heads of 8 (the paper:
    32) over the categorical fields; numeric fields go to the DNN.

    Parameters
    ----------
    %(autoint_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    %(common_attributes)s

    Examples
    --------
    >>> from tabnn import AutoIntClassifier
    >>> from tabnn.datasets import make_ctr
    >>> data = make_ctr(n_samples=2000, random_state=0)  # doctest: +SKIP
    >>> clf = AutoIntClassifier(random_state=0).fit(data.data, data.target)  # doctest: +SKIP
    >>> clf.predict_proba(data.data[:2]).shape  # doctest: +SKIP
    (2, 2)
    """


@fill_doc(autoint_parameters=AUTOINT_PARAMETERS)
class AutoIntRegressor(NeuralRegressorMixin, RegressorMixin, _AutoIntBase):
    """AutoInt regressor: self-attention over field embeddings, squared-error loss.

    The target is standardised for training and mapped back for ``predict``.

    Parameters
    ----------
    %(autoint_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    %(common_attributes)s
    """
