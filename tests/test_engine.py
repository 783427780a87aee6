"""The engine's seams, exercised by a small model defined here: a model output with an
auxiliary head, its own loss and a penalty term; user callbacks; a fit in two stages;
declared weight-decay groups; the common signature of every neural estimator."""

import inspect

import numpy as np
import pytest
import torch
from sklearn.base import ClassifierMixin
from sklearn.metrics import roc_auc_score
from torch import nn

from tabnn._params import Boolean, Interval
from tabnn.callbacks import Callback, TimeLimit
from tabnn.datasets import make_ctr
from tabnn.estimators import all_estimators
from tabnn.estimators._base import NeuralClassifierMixin, NeuralEstimator
from tabnn.nn import AutoInt, FieldEmbedding, TabularNetwork
from tabnn.nn.network import weight_decay_groups
from tabnn.nn.output import ModelOutput
from tabnn.training import SingleDevice, Stage

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class TwoHeads(nn.Module):
    """A linear logit, a second linear head trained only through this model's own loss,
    and an L1 penalty on the main head's weights."""

    def __init__(self, n_fields, dim, n_outputs, penalty, aux_loss):
        super().__init__()
        self.main = nn.Linear(n_fields * dim, n_outputs)
        self.side = nn.Linear(n_fields * dim, n_outputs)
        self.penalty, self.aux_loss = penalty, aux_loss
        self.temperature = 1.0  # changed by a stage callback

    def forward(self, emb):
        flat = emb.flatten(1)
        return ModelOutput(
            self.main(flat),
            aux={"side": self.side(flat.detach()) * self.temperature},
            penalties={"l1": self.penalty * self.main.weight.abs().sum()},
        )

    def loss(self, output, y, w, task_loss):
        loss = task_loss(output.logits, y, w) + sum(output.penalties.values())
        if self.aux_loss:
            loss = loss + task_loss(output.aux["side"], y, w)
        return loss


class TwoHeadClassifier(NeuralClassifierMixin, ClassifierMixin, NeuralEstimator):
    """Test estimator: the common parameters it does not list keep the base defaults."""

    _param_constraints = {"penalty": [Interval("real", 0)], "aux_loss": [Boolean()],
                          "two_stages": [Boolean()]}

    def __init__(self, *, penalty=0.0, aux_loss=True, two_stages=False, max_epochs=6,
                 learning_rate=0.02, early_stopping=False, device="cpu", random_state=0,
                 callbacks=None):
        super().__init__(max_epochs=max_epochs, learning_rate=learning_rate,
                         early_stopping=early_stopping, device=device,
                         random_state=random_state, callbacks=callbacks, embedding_dim=4,
                         embedding_l2=0.0, batch_size=128)
        self.penalty, self.aux_loss, self.two_stages = penalty, aux_loss, two_stages

    def _build_model(self, embedding, n_outputs):
        return TwoHeads(embedding.n_fields, embedding.dim, n_outputs, self.penalty,
                        self.aux_loss)

    def _stages(self):
        if not self.two_stages:
            return super()._stages()
        return [Stage("search", max_epochs=2, callbacks=[Heat()]),
                Stage("retrain", max_epochs=3, learning_rate=0.01)]


class Heat(Callback):
    """Stage callback: raises the model's temperature each epoch."""

    def on_epoch_begin(self, trainer):
        trainer.network.model.temperature = float(trainer.epoch)


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, trainer):
        self.events.append(("begin", trainer.stage.name))

    def on_epoch_end(self, trainer):
        self.events.append(("epoch", trainer.stage.name, trainer.epoch,
                            trainer.record["train_loss"], trainer.network.model.temperature))

    def on_train_end(self, trainer):
        self.events.append(("end", trainer.stage.name))


@pytest.fixture(scope="module")
def data():
    d = make_ctr(n_samples=3000, n_categorical=3, n_numeric=2, cardinality=6,
                 interactions=[], main_effects=["C1", "C2", "I1"], main_effect_strength=2.0,
                 random_state=3)
    return d.data, d.target


def _side_auc(clf, X, y):
    def side(network, batch):
        return network.model(network.embedding(*batch)).aux["side"].double()

    return roc_auc_score(y, clf._forward(X, side)[:, 0])


@pytest.mark.parametrize("device", DEVICES)
def test_auxiliary_output_is_trained_by_the_models_own_loss(data, device):
    X, y = data
    with_aux = TwoHeadClassifier(device=device).fit(X, y)
    without = TwoHeadClassifier(device=device, aux_loss=False).fit(X, y)
    # the side head sees detached inputs: only its own loss term can train it
    assert _side_auc(with_aux, X, y) > 0.7
    assert abs(_side_auc(without, X, y) - 0.5) < abs(_side_auc(with_aux, X, y) - 0.5) - 0.1
    main_auc = roc_auc_score(y, with_aux.predict_proba(X)[:, 1])
    assert main_auc > 0.7


@pytest.mark.parametrize("device", DEVICES)
def test_penalty_term_enters_the_training_loss(data, device):
    X, y = data
    free = TwoHeadClassifier(device=device).fit(X, y)
    sparse = TwoHeadClassifier(device=device, penalty=0.05).fit(X, y)
    l1 = [float(m.module_.model.main.weight.detach().abs().sum()) for m in (free, sparse)]
    assert l1[1] < 0.5 * l1[0]
    # the reported training loss includes the penalty
    assert sparse.history_[-1]["train_loss"] > free.history_[-1]["train_loss"]


def test_user_callback_sees_every_epoch_and_can_stop_training(data):
    X, y = data
    rec = Recorder()
    clf = TwoHeadClassifier(max_epochs=5, callbacks=[rec]).fit(X, y)
    epochs = [e for e in rec.events if e[0] == "epoch"]
    assert [e[2] for e in epochs] == [1, 2, 3, 4, 5] == [h["epoch"] for h in clf.history_]
    assert [e[3] for e in epochs] == [h["train_loss"] for h in clf.history_]
    assert rec.events[0] == ("begin", "train") and rec.events[-1] == ("end", "train")

    class StopAfterTwo(Callback):
        def on_epoch_end(self, trainer):
            trainer.stop_training = trainer.epoch >= 2

    assert TwoHeadClassifier(max_epochs=5, callbacks=[StopAfterTwo()]).fit(X, y).n_iter_ == 2
    assert TwoHeadClassifier(max_epochs=5, callbacks=[TimeLimit(0)]).fit(X, y).n_iter_ == 1


@pytest.mark.parametrize("device", DEVICES)
def test_two_stage_fit_runs_both_stages_with_their_callbacks(data, device):
    X, y = data
    rec = Recorder()
    clf = TwoHeadClassifier(two_stages=True, callbacks=[rec], device=device).fit(X, y)
    assert [(h["stage"], h["epoch"]) for h in clf.history_] == [
        ("search", 1), ("search", 2), ("retrain", 1), ("retrain", 2), ("retrain", 3)]
    assert [e[:2] for e in rec.events if e[0] != "epoch"] == [
        ("begin", "search"), ("end", "search"), ("begin", "retrain"), ("end", "retrain")]
    # the stage's own callback ran in the search stage only; each stage has its own rate
    temps = [e[4] for e in rec.events if e[0] == "epoch"]
    assert temps == [1.0, 2.0, 2.0, 2.0, 2.0]
    lrs = [h["learning_rate"] for h in clf.history_]
    assert lrs[:2] == pytest.approx([0.02, 0.02]) and lrs[2:] == pytest.approx([0.01] * 3)
    assert roc_auc_score(y, clf.predict_proba(X)[:, 1]) > 0.7


def test_early_stopping_restores_the_best_epoch_per_stage(data):
    X, y = data
    clf = TwoHeadClassifier(early_stopping=True, max_epochs=30, learning_rate=0.5).fit(X, y)
    best = clf.history_[clf.best_iteration_ - 1]
    assert best["improved"] and best["valid_loss"] == min(h["valid_loss"] for h in clf.history_)
    assert clf.n_iter_ < 30


def _autoint_network():
    torch.manual_seed(0)
    emb = FieldEmbedding([5, 7], n_numeric=2, dim=4)
    model = AutoInt(4, 4, 1, attention_layers=1, attention_head_dim=4, layer_norm=True,
                    dnn_hidden=(8,))
    return TabularNetwork(emb, model, output_bias=np.zeros(1))


def test_weight_decay_leaves_embeddings_biases_and_norms_alone():
    net = _autoint_network()
    decay, no_decay = weight_decay_groups(net)
    names = {id(p): n for n, p in net.named_parameters()}
    kept = sorted(names[id(p)] for p in no_decay)
    decayed = sorted(names[id(p)] for p in decay)
    assert all(n.startswith("embedding.") or n.endswith("bias") or ".norm." in n
               for n in kept)
    assert {"embedding.table.weight", "embedding.numeric.weight", "embedding.numeric.missing",
            "output_bias", "model.layers.0.norm.weight"} <= set(kept)
    assert {"model.layers.0.qkv.weight", "model.head.weight"} <= set(decayed)
    # behaviour: with zero gradients AdamW's update is the decay alone
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = SingleDevice("cpu").optimizer([(decay, 0.5), (no_decay, 0.0)], 0.1)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in net.named_parameters():
        if n in kept:
            torch.testing.assert_close(p.detach(), before[n], rtol=0, atol=0)
        else:
            torch.testing.assert_close(p.detach(), before[n] * (1 - 0.1 * 0.5))


def test_neural_estimator_trains_with_weight_decay_on_dense_weights_only(data):
    X, y = data
    a = TwoHeadClassifier(max_epochs=2).set_params()
    a.weight_decay = 0.3
    a.fit(X, y)
    b = TwoHeadClassifier(max_epochs=2)
    b.fit(X, y)
    ea, eb = (m.module_.embedding.table.weight.detach() for m in (a, b))
    # embeddings see the same gradients either way (the heads differ, so only roughly)
    assert float(ea.norm()) == pytest.approx(float(eb.norm()), rel=0.2)
    assert float(a.module_.model.main.weight.norm()) < float(b.module_.model.main.weight.norm())


OWN_DEFAULTS = {name: {"n_iter_no_change": 5}
                for name in ("AutoIntClassifier", "AutoIntRegressor")}


def test_every_neural_estimator_has_the_common_parameters_plus_its_own():
    common = inspect.signature(NeuralEstimator.__init__).parameters
    common = {k: v.default for k, v in common.items() if k != "self"}
    estimators = all_estimators("neural")
    assert estimators
    for name, cls in estimators:
        params = {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items()
                  if k != "self"}
        own = {k for klass in cls.__mro__ if klass is not NeuralEstimator
               for k in klass.__dict__.get("_param_constraints", {})}
        assert set(params) == set(common) | own, name
        # the base's defaults, but for the models that choose their own (by measurement)
        expected = {**common, **OWN_DEFAULTS.get(name, {})}
        assert {k: params[k] for k in common} == expected, name
        assert not own & set(common), name


def test_models_are_sized_from_the_embedding_they_get(data):
    X, y = data

    class Wide(FieldEmbedding):
        """An embedding of width 6 whatever embedding_dim says."""

    class WideSpec:
        def build(self, cardinalities, n_numeric, dim, numeric=None):
            return Wide(cardinalities, n_numeric, 6, numeric=numeric)

    from tabnn import AutoIntClassifier

    clf = AutoIntClassifier(embedding=WideSpec(), embedding_dim=3, attention_layers=1,
                            attention_head_dim=4, max_epochs=1, random_state=0).fit(X, y)
    assert clf.module_.embedding.dim == 6
    assert clf.module_.model.layers[0].qkv.in_features == 6
    assert clf.predict_proba(X).shape == (len(X), 2)
