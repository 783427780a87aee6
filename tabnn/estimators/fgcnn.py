"""FGCNN (feature generation by convolution, with an IPNN classifier) as scikit-learn
estimators."""

from __future__ import annotations

from sklearn.base import ClassifierMixin, RegressorMixin

from .._params import Boolean, Interval, IntSequence, Options
from ..nn.fgcnn import FGCNN, EmbeddingPair
from ._base import NeuralClassifierMixin, NeuralEstimator, NeuralRegressorMixin, fill_doc

__all__ = ["FGCNNClassifier", "FGCNNRegressor"]

FGCNN_PARAMETERS = """\
channels : tuple of int, default=(14, 16, 18, 20)
        Convolution channels of each feature-generation stage; ``()`` gives plain IPNN.
        With the three parameters below, the defaults of FuxiCTR's FGCNN.
    kernel_heights : int or tuple of int, default=7
        Height of each stage's convolution kernel, in neighbouring fields (an int applies
        to every stage).
    pooling_sizes : int or tuple of int, default=2
        Max-pooling size of each stage, in fields. A stage whose pooling window is larger
        than the fields left uses a window of what is left (a stage on one remaining field
        keeps it), so any number of fields works.
    recombined_channels : int or tuple of int, default=2
        New features per remaining field of each stage: stage ``i`` generates
        ``H_i * r_i`` embeddings (``H_i`` fields left after its pooling).
    conv_batch_norm : bool, default=True
        Batch normalisation after each convolution (as in FuxiCTR).
    dnn_hidden : tuple of int, default=(256, 128)
        Hidden sizes of the IPNN's MLP. Smaller than FuxiCTR's 4096-wide layers: the MLP
        input has ``M k + M (M - 1) / 2`` values for ``M`` raw and generated fields (8,395
        with 39 fields), so a 4096-wide first layer alone would hold 34 million weights and
        dominate the training time on a CPU.
    dropout : float, default=0.0
        Dropout in the MLP.
    share_embedding : bool, default=False
        One embedding for feature generation and the classifier. By default each has its
        own (as in the paper and FuxiCTR): the generator's embeddings are shaped by the
        convolution and the classifier's by the inner products; sharing halves the
        embedding memory."""

FGCNN_NOTES = """Field order matters: the convolution slides over neighbouring fields in the encoder's
    column order, categorical fields first, then numeric ones, each group in the order of
    the input columns (``encoder_.schema_``). Put related columns next to each other, or
    select them in the order you want (e.g. with a ``ColumnTransformer`` in front)."""


def _stage_sizes(value, n_stages, name):
    sizes = [int(value)] * n_stages if isinstance(value, int) else [int(v) for v in value]
    if len(sizes) != n_stages:
        raise ValueError(
            f"{name} needs one value per stage (len(channels)={n_stages}) or a single int, "
            f"however: {name}={value!r}"
        )
    return sizes


class _FGCNNBase(NeuralEstimator):
    _param_constraints = {
        "channels": [IntSequence(1)],
        "kernel_heights": [Interval("int", 1), IntSequence(1)],
        "pooling_sizes": [Interval("int", 1), IntSequence(1)],
        "recombined_channels": [Interval("int", 1), IntSequence(1)],
        "conv_batch_norm": [Boolean()],
        "dnn_hidden": [IntSequence(1), Options(None)],
        "dropout": [Interval("real", 0, 1, closed="left")],
        "share_embedding": [Boolean()],
    }

    def __init__(
        self,
        *,
        channels=(14, 16, 18, 20),
        kernel_heights=7,
        pooling_sizes=2,
        recombined_channels=2,
        conv_batch_norm=True,
        dnn_hidden=(256, 128),
        dropout=0.0,
        share_embedding=False,
        **common,
    ):
        super().__init__(**common)
        self.channels = channels
        self.kernel_heights = kernel_heights
        self.pooling_sizes = pooling_sizes
        self.recombined_channels = recombined_channels
        self.conv_batch_norm = conv_batch_norm
        self.dnn_hidden = dnn_hidden
        self.dropout = dropout
        self.share_embedding = share_embedding

    def _stages_sizes(self):
        n = len(self.channels)
        return (_stage_sizes(self.kernel_heights, n, "kernel_heights"),
                _stage_sizes(self.pooling_sizes, n, "pooling_sizes"),
                _stage_sizes(self.recombined_channels, n, "recombined_channels"))

    def _validate_data(self, X, y, sample_weight):
        self._stages_sizes()  # per-stage lengths agree: fail before the encoder is fitted
        return super()._validate_data(X, y, sample_weight)

    def _build_embedding(self, encoded):
        generation = super()._build_embedding(encoded)
        if self.share_embedding:
            return generation
        return EmbeddingPair(generation, super()._build_embedding(encoded))

    def _build_model(self, embedding, n_outputs):
        kernel_heights, pooling_sizes, recombined = self._stages_sizes()
        model = FGCNN(
            embedding.n_fields,
            embedding.dim,
            n_outputs,
            channels=tuple(int(c) for c in self.channels),
            kernel_heights=kernel_heights,
            pooling_sizes=pooling_sizes,
            recombined_channels=recombined,
            dnn_hidden=tuple(self.dnn_hidden or ()),
            dropout=float(self.dropout),
            conv_batch_norm=bool(self.conv_batch_norm),
        )
        self.n_generated_features_ = model.n_generated
        return model


FGCNN_ATTRIBUTES = """\
n_generated_features_ : int
        Number of feature embeddings the convolution stages generate (``sum_i H_i r_i``);
        the classifier sees ``n_fields + n_generated_features_`` fields."""


@fill_doc(fgcnn_parameters=FGCNN_PARAMETERS, fgcnn_attributes=FGCNN_ATTRIBUTES,
          fgcnn_notes=FGCNN_NOTES)
class FGCNNClassifier(NeuralClassifierMixin, ClassifierMixin, _FGCNNBase):
    """FGCNN classifier: convolutional feature generation + IPNN (binary and multi-class).

    Convolution, tanh and max-pooling stages over neighbouring fields, each followed by a
    fully connected recombination layer that creates new feature embeddings from all the
    stage's maps (Liu et al., WWW 2019). Raw and generated embeddings go to an IPNN: the
    flat embeddings plus every pairwise inner product, into an MLP. Generation and
    classifier have their own embeddings unless ``share_embedding=True``.

    Parameters
    ----------
    %(fgcnn_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    classes_ : ndarray
        Class labels.
    %(fgcnn_attributes)s
    %(common_attributes)s

    Notes
    -----
    %(fgcnn_notes)s

    Examples
    --------
    >>> from tabnn import FGCNNClassifier
    >>> from tabnn.datasets import make_ctr
    >>> data = make_ctr(n_samples=2000, random_state=0)  # doctest: +SKIP
    >>> clf = FGCNNClassifier(random_state=0).fit(data.data, data.target)  # doctest: +SKIP
    >>> clf.predict_proba(data.data[:2]).shape  # doctest: +SKIP
    (2, 2)
    """


@fill_doc(fgcnn_parameters=FGCNN_PARAMETERS, fgcnn_attributes=FGCNN_ATTRIBUTES,
          fgcnn_notes=FGCNN_NOTES)
class FGCNNRegressor(NeuralRegressorMixin, RegressorMixin, _FGCNNBase):
    """FGCNN regressor: convolutional feature generation + IPNN, squared-error loss.

    The target is standardised for training and mapped back for ``predict``.

    Parameters
    ----------
    %(fgcnn_parameters)s
    %(common_parameters)s

    Attributes
    ----------
    %(fgcnn_attributes)s
    %(common_attributes)s

    Notes
    -----
    %(fgcnn_notes)s
    """
