"""OptFS: gates equal 1 at the start, the gate step descends the task loss plus the penalty,
no optimiser drift of absent values' gates, pruned codes mapped to the unknown code of a
smaller table, rewound weights, planted noise fields pruned without AUC loss, GridSearchCV
over the penalty, errors."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

from tabnn import (
    AutoIntClassifier,
    AutoIntRegressor,
    FCNClassifier,
    OptFSClassifier,
    OptFSRegressor,
)
from tabnn.callbacks import Callback
from tabnn.datasets import make_ctr
from tabnn.nn.embedding import FieldEmbedding
from tabnn.nn.optfs import GatedEmbedding, PrunedEmbedding, prune_codes, pruned_cardinalities

CARDS = [5, 4]


def _codes(rows, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, c, (rows,), generator=gen) for c in CARDS], 1)


def _gated(**kw):
    torch.manual_seed(0)
    return GatedEmbedding(FieldEmbedding(CARDS, 2, 3), CARDS, **kw).double()


def test_gates_are_one_at_the_start_and_the_gated_model_equals_the_wrapped_one():
    gated = _gated(mask_init=0.7)
    codes, num = _codes(16), torch.randn(16, 2, dtype=torch.float64)
    miss = torch.zeros(16, 2, dtype=torch.float64)
    for mode in (gated.train, gated.eval):
        mode()
        torch.testing.assert_close(gated(codes, num, miss), gated.inner(codes, num, miss))
    assert gated.n_values == sum(CARDS) and gated.n_fields == 4


def test_gate_step_descends_the_task_loss_plus_the_penalty_over_all_gates():
    gated = _gated(strength=0.3)
    with torch.no_grad():
        gated.gate_params.uniform_(-0.3, 0.3)
        gated.before.copy_(gated.gate_params)
        gated.temperature.fill_(4.0)
    start = gated.gate_params.detach().clone()
    codes = _codes(8)
    zeros = torch.zeros(8, 2, dtype=torch.float64)
    gated(codes, zeros, zeros).sum().backward()
    with torch.no_grad():  # an optimiser's move of the logits is undone by the gate step
        gated.gate_params.add_(1.0)
    gated.gate_step(0.5)
    # the same objective written out: the data term plus 0.3 * the sum over every gate
    logits = start.clone().requires_grad_(True)
    out = gated.inner(codes, zeros, zeros)
    gates = torch.sigmoid(4.0 * logits[gated.value_ids(codes)]) / torch.sigmoid(
        torch.tensor(0.5, dtype=torch.float64))
    data = (out[:, :2] * gates.unsqueeze(-1)).sum() + out[:, 2:].sum()
    (data + 0.3 * torch.sigmoid(4.0 * logits).sum()).backward()
    torch.testing.assert_close(gated.gate_params.detach(), start - 0.5 * logits.grad)


def test_gates_of_values_absent_from_a_step_move_by_the_penalty_alone():
    for strength in (0.0, 1.0):
        gated = _gated(strength=strength)
        opt = torch.optim.Adam(gated.parameters(), lr=0.1)
        gated.train()
        for step in range(3):
            codes = _codes(6, step)
            codes[:, 0] = 4 if step == 2 else torch.where(codes[:, 0] == 3, 2, codes[:, 0])
            before = gated.gate_params.detach().clone()
            expected = before - 0.2 * gated.penalty_gradient(before)
            opt.zero_grad()
            gated(codes, torch.zeros(6, 2, dtype=torch.float64),
                  torch.zeros(6, 2, dtype=torch.float64)).sum().backward()
            opt.step()  # Adam's momentum would move every gate: the gate step undoes it
            gated.gate_step(0.2)
            now = gated.gate_params.detach()
            absent = [0, 1, 2, 3] if step == 2 else [3]
            torch.testing.assert_close(now[absent], expected[absent])
            assert now[4] != expected[4]
        if strength == 0.0:
            assert gated.gate_params[3] == 0.5  # never seen, no penalty: never moves


def test_pruned_values_map_to_the_unknown_code_of_a_smaller_table():
    kept = np.array([0, 1, 1, 0, 1, 1, 1, 0, 0], dtype=bool)  # field 0: values 2, 4 kept
    remap, new_cards = prune_codes(CARDS, kept)
    assert new_cards == [4, 2] and new_cards == pruned_cardinalities(CARDS, kept)
    assert remap.tolist() == [1, 1, 2, 1, 3, 0, 1, 1, 1]  # missing of field 0 pruned
    torch.manual_seed(0)
    pruned = PrunedEmbedding(FieldEmbedding(new_cards, 0, 3), CARDS, kept)
    assert pruned.inner.table.weight.shape[0] == 6 < sum(CARDS)
    codes = torch.tensor([[3, 2], [1, 3], [4, 0]])
    out = pruned(codes, torch.zeros(3, 0), torch.zeros(3, 0))
    table = pruned.inner.table.weight
    torch.testing.assert_close(out[0, 0], table[1])  # pruned 3 -> field 0's unknown row
    torch.testing.assert_close(out[1, 0], table[1])
    torch.testing.assert_close(out[2, 0], table[3])
    torch.testing.assert_close(out[0, 1], table[4 + 1])  # field 1: value 2 pruned
    torch.testing.assert_close(out[2, 1], table[4 + 0])


@pytest.fixture(scope="module")
def planted():
    """3 fields with main effects, 2 categorical pure-noise fields (N1, N3)."""
    data = make_ctr(7000, n_categorical=3, n_numeric=0, cardinality=20, interactions=[],
                    main_effects=3, main_effect_strength=1.0, n_noise=3, random_state=0)
    X = data.data.drop(columns="N2")  # the numeric noise field: numeric fields are not gated
    y = np.asarray(data.target)
    return X.iloc[:4000], X.iloc[4000:], y[:4000], y[4000:]


class _RecordStart(Callback):
    """Records the network's weights when each stage starts (after OptFS's rewind)."""

    def __init__(self):
        self.states = []

    def on_train_begin(self, trainer):
        self.states.append({k: v.clone() for k, v in trainer.network.state_dict().items()})


def test_noise_values_pruned_informative_kept_and_no_auc_loss(planted):
    X, X_test, y, y_test = planted
    alone = _RecordStart()
    backbone = FCNClassifier(max_epochs=6, ecn_layers=1, lcn_layers=1, embedding_dim=8,
                             random_state=0, callbacks=[alone])
    base = roc_auc_score(y_test, backbone.fit(X, y).predict_proba(X_test)[:, 1])
    recorder = _RecordStart()
    optfs = OptFSClassifier(backbone.set_params(callbacks=[recorder]), gate_penalty=3.0,
                            search_epochs=4).fit(X, y)
    auc = roc_auc_score(y_test, optfs.predict_proba(X_test)[:, 1])
    assert auc >= base - 0.005, (auc, base)
    for field in ("N1", "N3"):
        assert optfs.support_[field] < 0.2, optfs.support_
    for spec in optfs.estimator_.encoder_.schema_:
        if spec.name in ("C1", "C2", "C3"):  # the planted fields: their 3 most frequent values
            frequent = spec.categories[np.argsort(spec.counts)[::-1][:3]]
            assert set(frequent) <= set(optfs.selected_values_[spec.name])
            assert optfs.support_[spec.name] > 0.5
    assert optfs.kept_ratio_ < 0.6
    importance = dict(zip(optfs.feature_names_in_, optfs.feature_importances_))
    assert min(importance[f] for f in ("C1", "C2", "C3")) > max(importance["N1"], importance["N3"])
    params = optfs.embedding_parameters_
    assert params["pruned"] < params["backbone"] and optfs.embedding_memory_saved_ > 0
    kept_rows = optfs.estimator_.module_.embedding.inner.table.weight.shape[0]
    reserved = 2 * len(optfs.value_support_)
    assert kept_rows == reserved + sum(int(m[2:].sum()) for m in optfs.value_support_.values())
    # the retraining starts from the search's initial weights (rewind_epoch=0), and the
    # search from the backbone's own (the same integer random_state): a paired comparison
    search_start, retrain_start = recorder.states
    for key, value in retrain_start.items():
        if key.startswith("model."):
            torch.testing.assert_close(value, search_start[key])
            torch.testing.assert_close(value, alone.states[0][key])
    torch.testing.assert_close(search_start["embedding.inner.table.weight"],
                               alone.states[0]["embedding.table.weight"])
    history = optfs.search_history_
    temperatures = [h["temperature"] for h in history]  # a warm-up epoch, then rising
    assert temperatures[0] == 1 and temperatures[-1] == 1000
    assert np.all(np.diff(temperatures) > 0)
    assert pickle.loads(pickle.dumps(optfs)).predict_proba(X_test[:5]).shape == (5, 2)


def test_auto_warm_up_lasts_until_the_validation_loss_levels_off(planted):
    X, _, y, _ = planted
    backbone = FCNClassifier(ecn_layers=1, lcn_layers=1, embedding_dim=8, random_state=0)
    optfs = OptFSClassifier(backbone, gate_penalty=3.0, search_epochs=8,
                            warmup_epochs="auto").fit(X, y)
    history = optfs.search_history_
    warm = [h["warm_up"] for h in history]
    n = warm.index(False)  # warm-up epochs, a prefix of at most half the search
    assert 1 <= n <= 4 and not any(warm[n:])
    losses = [h["valid_loss"] for h in history]
    # every warm-up epoch before the last lowered the best validation loss by 1 % or more;
    # the last did not, unless the cap ended the warm-up
    for i in range(1, n - 1):
        assert losses[i] <= 0.99 * min(losses[:i])
    if 1 < n < 4:
        assert losses[n - 1] > 0.99 * min(losses[: n - 1])
    # gates fixed and open in the warm-up, step functions at the end
    assert all(h["temperature"] == 1 and h["kept_ratio"] == 1 for h in history[:n])
    assert history[-1]["temperature"] == 1000 and history[-1]["kept_ratio"] < 1


@pytest.mark.parametrize("search_epochs", [5, 3])
def test_default_warm_up_is_the_backbones(search_epochs):
    X, y = make_ctr(600, n_categorical=3, n_numeric=1, cardinality=8, interactions=[],
                    main_effects=2, random_state=1, return_X_y=True)
    small = dict(max_epochs=2, embedding_dim=4, random_state=0)
    backbones = {3: AutoIntClassifier(attention_layers=1, dnn_hidden=(8,), **small),
                 1: FCNClassifier(ecn_layers=1, lcn_layers=1, **small)}
    for expected, backbone in backbones.items():
        optfs = OptFSClassifier(backbone, search_epochs=search_epochs).fit(X, y)
        warm = [h["warm_up"] for h in optfs.search_history_]
        # AutoInt learns its interactions a few epochs in; at least one gate epoch is left
        n = min(expected, search_epochs - 1)
        assert warm == [True] * n + [False] * (search_epochs - n)
    assert OptFSClassifier().get_params()["warmup_epochs"] is None


def test_grid_search_over_the_penalty_and_regressor():
    X, y = make_ctr(800, n_categorical=3, n_numeric=1, cardinality=8, interactions=[],
                    main_effects=2, random_state=1, return_X_y=True)
    small = AutoIntClassifier(max_epochs=2, attention_layers=1, dnn_hidden=(8,),
                              embedding_dim=4, random_state=0)
    search = GridSearchCV(OptFSClassifier(small, search_epochs=2),
                          {"gate_penalty": [0.1, 10.0]}, cv=2, scoring="roc_auc").fit(X, y)
    assert search.best_params_["gate_penalty"] in (0.1, 10.0)
    assert 0 <= search.best_estimator_.kept_ratio_ <= 1
    reg = OptFSRegressor(AutoIntRegressor(max_epochs=2, attention_layers=1, dnn_hidden=(8,),
                                          embedding_dim=4, random_state=0), search_epochs=2)
    pred = reg.fit(X, np.asarray(y, dtype=float) * 3.0).predict(X)
    assert pred.shape == (len(X),) and np.isfinite(pred).all()


def test_errors():
    X = pd.DataFrame({"c": list("abcd") * 10, "x": np.arange(40.0)})
    y = np.arange(40) % 2
    with pytest.raises(NotFittedError):
        OptFSClassifier().predict(X)
    with pytest.raises(ValueError, match="rewind_epoch must be below search_epochs"):
        OptFSClassifier(search_epochs=2, rewind_epoch=2).fit(X, y)
    with pytest.raises(ValueError, match="warmup_epochs must be below search_epochs"):
        OptFSClassifier(search_epochs=2, warmup_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="'estimator' parameter of OptFSClassifier"):
        OptFSClassifier(AutoIntRegressor()).fit(X, y)
    with pytest.raises(ValueError, match="reads raw value hashes"):
        OptFSClassifier(AutoIntClassifier(embedding=_HashSpec())).fit(X, y)


class _HashSpec:
    uses_value_hashes = True

    def build(self, cardinalities, n_numeric, dim, **options):  # pragma: no cover
        raise AssertionError("not reached")
