"""AutoInt training / prediction speed and default-parameter quality on a CTR-like table.

Data: ``tabnn.comparison.ctr_benchmark_data`` (``make_ctr`` with 26 Zipf-distributed categorical
fields of cardinality 10 to 100k, 13 heavy-tailed numeric fields, planted interactions and main
effects); 300k training rows by default. Every model runs in this
one process with 2 threads, one after the other:

* speed: one epoch at batch 4096, embedding 16 -- tabnn's AutoInt with its defaults (the paper's
  attention sizes, 3 layers x 2 heads x 32, plus the AutoInt+ DNN 256-128), tabnn with
  deepctr-torch's sizes (2 heads x 8 + DNN 256-128) over all 39 fields and over the 26
  categorical fields (``attend_numeric=False``) and, when installed, deepctr-torch's own AutoInt
  with those sizes -- as it comes (attention over the 26 categorical fields, numeric columns
  into the DNN only) and with the numeric columns binned into fields, so that its attention
  sees the same 39 fields as tabnn's; LightGBM's fit time on the same rows. The speed ratios
  are printed for each pair of runs that train the same model. deepctr-torch runs twice: as
  a user runs it (first in the process, glibc's own heap settings) and under the heap settings
  tabnn's engine trains under (``tabnn._heap.heap_reuse``), which compares the libraries'
  own work;
* quality: tabnn's AutoInt with default parameters (early stopping on a validation split) next
  to LightGBM's defaults and the base rate, test AUC and logloss.

Usage::

    python benchmarks/train_speed.py            # 300k training rows
    python benchmarks/train_speed.py --quick    # 50k rows, a smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import log_loss, roc_auc_score

from tabnn import AutoIntClassifier
from tabnn.comparison import ctr_benchmark_data, to_lightgbm_frame
from tabnn._heap import heap_reuse
from tabnn.training import resolve_device


class PeakRSS:
    """Peak resident memory growth (MiB) while the block runs, sampled from /proc."""

    def __enter__(self):
        self._stop = False
        self.base = self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.growth = self.peak - self.base


def deepctr_autoint(train, test, y_train, batch_size, dim, numeric_fields=False, device="cpu"):
    """Train one epoch of deepctr-torch's AutoInt; returns (train s, predict s, proba).

    deepctr-torch feeds numeric columns to its DNN only, so its attention sees the 26
    categorical fields where tabnn's sees all 39 (numeric fields embedded, as in the paper).
    ``numeric_fields=True`` gives deepctr-torch the same 39 fields: each numeric column
    becomes a categorical field of 32 quantile bins (plus missing).
    """
    from deepctr_torch.inputs import DenseFeat, SparseFeat
    from deepctr_torch.models import AutoInt

    cats = [c for c in train.columns if isinstance(train[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in train.columns if c not in cats]
    edges = {c: np.unique(np.nanquantile(train[c].to_numpy(dtype=np.float64),
                                         np.linspace(0, 1, 33)[1:-1])) for c in nums}

    def to_inputs(frame):
        out = {c: frame[c].cat.codes.to_numpy().astype(np.int64) + 1 for c in cats}
        for c in nums:
            x = frame[c].to_numpy(dtype=np.float64)
            if numeric_fields:
                out[c] = np.where(np.isnan(x), 0, np.searchsorted(edges[c], x) + 1)
            else:
                out[c] = np.log1p(np.nan_to_num(x, nan=0.0)).astype(np.float32)
        return out

    columns = [SparseFeat(c, len(train[c].cat.categories) + 1, embedding_dim=dim) for c in cats]
    if numeric_fields:
        columns += [SparseFeat(c, len(edges[c]) + 2, embedding_dim=dim) for c in nums]
    else:
        columns += [DenseFeat(c, 1) for c in nums]
    model = AutoInt(columns, columns, att_layer_num=3, att_head_num=2,
                    dnn_hidden_units=(256, 128), task="binary", device=device, seed=0)
    model.compile("adam", "binary_crossentropy")
    x_train, x_test = to_inputs(train), to_inputs(test)
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=1, verbose=0)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = model.predict(x_test, batch_size=16384)[:, 0]
    return fit_s, time.perf_counter() - start, proba


def lightgbm_fit(train, y_train, test):
    import lightgbm as lgb

    model = lgb.LGBMClassifier(n_jobs=2, verbose=-1, random_state=0)
    start = time.perf_counter()
    train, test = to_lightgbm_frame(train), to_lightgbm_frame(test)
    model.fit(train, y_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = model.predict_proba(test)[:, 1]
    return fit_s, time.perf_counter() - start, proba


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="training rows")
    parser.add_argument("--test-rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="50k training rows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--device", default="auto", help="torch device for tabnn and deepctr")
    args = parser.parse_args()
    n_train = 50_000 if args.quick else args.rows
    n_test = min(args.test_rows, n_train)
    torch.set_num_threads(args.threads)
    batch, dim = 4096, 16
    device = resolve_device(args.device)
    device = "cuda:0" if str(device) == "cuda" else str(device)

    data = ctr_benchmark_data(n_train + n_test, random_state=0)
    X, y = data.data, np.asarray(data.target)
    X_train, X_test = X.iloc[:n_train], X.iloc[n_train:]
    y_train, y_test = y[:n_train], y[n_train:]
    print(f"make_ctr: {n_train:,} train / {n_test:,} test rows, {X.shape[1]} fields "
          f"(26 categorical, cardinality up to "
          f"{max(len(X[c].cat.categories) for c in X.columns[:26]):,}), "
          f"base rate {y_train.mean():.3f}, torch threads {torch.get_num_threads()}, "
          f"device {device}\n")

    rows, probas = [], {}
    speed_models = {
        "tabnn AutoInt (defaults)": dict(),
        "tabnn AutoInt (deepctr sizes)": dict(attention_head_dim=8),
        "tabnn AutoInt (deepctr sizes, 26 att.)": dict(attention_head_dim=8,
                                                       attend_numeric=False),
    }
    deepctr_runs = {"deepctr-torch AutoInt": False, "deepctr-torch AutoInt, 39 fields": True}
    # the same model in both libraries: (tabnn run, deepctr-torch run)
    same_model = {
        "26 categorical fields attended, numeric columns to the DNN":
            ("tabnn AutoInt (deepctr sizes, 26 att.)", "deepctr-torch AutoInt"),
        "all 39 fields attended":
            ("tabnn AutoInt (deepctr sizes)", "deepctr-torch AutoInt, 39 fields"),
    }

    def run_deepctr(suffix, heap):
        # deepctr-torch twice: first as a user runs it, before tabnn has trained in this
        # process (glibc's own adaptive heap settings), then under the heap settings tabnn's
        # engine trains under (tabnn._heap.heap_reuse), where the ratio compares the two
        # libraries' own work
        try:
            for name, numeric_fields in deepctr_runs.items():
                with PeakRSS() as mem, (heap_reuse(device) if heap else contextlib.nullcontext()):
                    fit_s, pred_s, probas[name + suffix] = deepctr_autoint(
                        X_train, X_test, y_train, batch, dim, numeric_fields=numeric_fields,
                        device=device)
                rows.append((name + suffix, n_train / fit_s, n_train / fit_s, n_test / pred_s,
                             mem.growth))
        except ImportError:
            print("deepctr-torch not installed: its rows are skipped "
                  "(pip install deepctr-torch)\n")

    run_deepctr("", heap=False)
    for name, extra in speed_models.items():
        clf = AutoIntClassifier(embedding_dim=dim, batch_size=batch, max_epochs=1,
                                early_stopping=False, random_state=0, device=device,
                                **extra)
        with PeakRSS() as mem:
            start = time.perf_counter()
            clf.fit(X_train, y_train)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            probas[name] = clf.predict_proba(X_test)[:, 1]
            pred_s = time.perf_counter() - start
        epoch_s = clf.history_[0]["seconds"]
        rows.append((name, n_train / epoch_s, n_train / fit_s, n_test / pred_s, mem.growth))

    run_deepctr(" (heap_reuse)", heap=True)

    with PeakRSS() as mem:
        lgb_fit_s, lgb_pred_s, probas["LightGBM"] = lightgbm_fit(X_train, y_train, X_test)
    rows.append(("LightGBM (default, full fit)", np.nan, n_train / lgb_fit_s,
                 n_test / lgb_pred_s, mem.growth))

    print("Speed: one epoch, batch 4096, embedding 16 (LightGBM: whole default fit)")
    print(f"{'model':46s} {'train rows/s':>13s} {'fit rows/s':>11s} {'predict rows/s':>15s} "
          f"{'peak MiB':>9s}")
    for name, tr, fit, pr, mem in rows:
        tr_s = "-" if np.isnan(tr) else f"{tr:,.0f}"
        print(f"{name:46s} {tr_s:>13s} {fit:>11,.0f} {pr:>15,.0f} {mem:>9,.0f}")
    print("(train rows/s: the training epoch alone; fit rows/s: including encoding)")
    ref = {r[0]: r for r in rows}
    for model, (ours, theirs) in same_model.items():
        for suffix, how in (("", "as it runs"), (" (heap_reuse)", "same heap settings")):
            if theirs + suffix in ref:
                t, d = ref[ours], ref[theirs + suffix]
                print(f"tabnn / deepctr-torch {how}, same model ({model}): "
                      f"training x{t[1] / d[1]:.1f}, prediction x{t[3] / d[3]:.1f}")
    print(f"LightGBM fit: {lgb_fit_s:.1f} s\n")

    if args.skip_quality:
        return
    clf = AutoIntClassifier(random_state=0, device=device)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    quality_s = time.perf_counter() - start
    probas["tabnn AutoInt (defaults, early stopping)"] = clf.predict_proba(X_test)[:, 1]
    base = np.full(n_test, y_train.mean())
    print(f"Quality on {n_test:,} test rows (tabnn defaults: {clf.n_iter_} epochs, best "
          f"{clf.best_iteration_}, {quality_s:.0f} s)")
    print(f"{'model':50s} {'AUC':>7s} {'logloss':>8s}")
    print(f"{'base rate':50s} {0.5:>7.4f} {log_loss(y_test, base):>8.4f}")
    print(f"{'oracle (planted probabilities)':50s} "
          f"{roc_auc_score(y_test, data.oracle_proba[n_train:]):>7.4f} "
          f"{log_loss(y_test, data.oracle_proba[n_train:]):>8.4f}")
    for name, p in probas.items():
        label = name + (" (1 epoch)" if name in speed_models or "deepctr" in name else "")
        print(f"{label:50s} {roc_auc_score(y_test, p):>7.4f} "
              f"{log_loss(y_test, np.clip(p, 1e-7, 1 - 1e-7)):>8.4f}")


if __name__ == "__main__":
    main()
