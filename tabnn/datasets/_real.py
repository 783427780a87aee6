"""Loaders for the real data sets (FOLD benchmark tables, CTR / recommender samples).

All loaders are driven by one table of :class:`_Spec` entries; the public ``load_*`` functions
are thin wrappers around :func:`load_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ._base import fetch_file, get_data_home, make_bunch
from ._registry import REGISTRY

__all__ = ["load_dataset", "list_datasets"]

_FOLD_NOTE = (
    "Copy shipped by the FOLD-R++ / FOLD-RM authors (GitHub hwd404/FOLD-R-PP or "
    "hwd404/FOLD-RM, folder data/{folder}/); missing values ('?' or empty) are NaN. Column "
    "types follow the FOLD authors' declarations (categorical vs numeric)."
)


@dataclass
class _Spec:
    """How to read one data set.

    ``parts`` maps part name -> file name inside ``folder``.  With the default reader every
    part is read with ``pd.read_csv``; when there are several parts they are the published
    split (``split=`` selects one; ``split=None`` concatenates them in order).  A custom
    ``reader(paths, **options)`` (``paths``: file name -> local path) returns a list of
    ``(part name, DataFrame)``; ``splits`` then lists the part names ``split=`` accepts.
    Columns in ``categorical`` (or every feature for ``"all"``, or every feature not in
    ``options["numeric"]`` for ``"rest"``) become ``category``; all other features numeric.
    """

    name: str
    folder: str
    parts: dict
    target: str
    categorical: list | str = field(default_factory=list)
    drop: list = field(default_factory=list)
    title: str = ""
    task: str = "binary"  # binary / multiclass / regression
    read: dict = field(default_factory=dict)
    na_values: tuple = ("?",)
    fold: bool = True
    reader: Callable | None = None
    splits: tuple | None = None
    post: Callable | None = None  # (frame, **options) -> frame, before dtype conversion
    note: str = ""
    options: dict = field(default_factory=dict)  # loader keyword options and defaults
    numeric: list = field(default_factory=list)  # with categorical="rest"

    def files(self):
        return [f"{self.folder}/{f}" for f in self.parts.values()]

    def split_names(self):
        if self.splits is not None:
            return tuple(self.splits)
        return tuple(self.parts) if len(self.parts) > 1 else ()


def _r(start, stop, prefix):
    return [f"{prefix}{i}" for i in range(start, stop + 1)]


_DRUGS = ["Alcohol", "Amphet", "Amyl", "Benzos", "Caff", "Cannabis", "Choc", "Code", "Crack",
          "Ecstasy", "Heroin", "Ketamine", "Legalh", "LSD", "Meth", "Mushrooms", "Nicotine",
          "Semer", "VSA"]


def _fix_yeast_line(fields):
    # 5 rows carry an empty field after the sequence name; drop it.
    if len(fields) == 11 and fields[1] == "":
        return [fields[0]] + fields[2:]
    return None


def _post_drug(frame, target="Semer"):
    if target not in _DRUGS:
        raise ValueError(f"target must be one of {_DRUGS}; got {target!r}")
    frame = frame.drop(columns=[d for d in _DRUGS if d != target])
    return frame[[c for c in frame.columns if c != target] + [target]]


def _post_rain(frame):
    frame = frame.copy()
    date = pd.to_datetime(frame.pop("Date"))
    frame.insert(0, "Month", date.dt.month.astype("int64"))
    frame.insert(1, "Day", date.dt.day.astype("int64"))
    return frame


def _read_frappe(paths):
    return [(k, pd.read_csv(paths[f"{k}.csv.gz"], dtype="int64")) for k in ("valid", "test")]


_CRITEO_COLS = ["label"] + _r(1, 13, "I") + _r(1, 26, "C")
_CRITEO_DTYPE = {c: "float64" for c in _r(1, 13, "I")}


def _read_criteo(paths, variant="head10k"):
    if variant == "head10k":
        df = pd.read_csv(paths["criteo_head10k.txt"], sep="\t", header=None,
                         names=_CRITEO_COLS, dtype=_CRITEO_DTYPE)
    elif variant == "deepctr":
        df = pd.read_csv(paths["criteo_sample.txt"], dtype=_CRITEO_DTYPE)
    else:
        raise ValueError(f"variant must be 'head10k' or 'deepctr'; got {variant!r}")
    return [("all", df)]


def _read_avazu(paths, variant="wide_resdnn"):
    dtype = {"id": "str"}
    if variant == "deepctr":
        return [("all", pd.read_csv(paths["avazu_sample.txt"], dtype=dtype))]
    if variant != "wide_resdnn":
        raise ValueError(f"variant must be 'wide_resdnn' or 'deepctr'; got {variant!r}")
    train = pd.read_csv(paths["wide_resdnn_train.csv"], dtype=dtype)
    out = [("train", train)]
    for part, f in (("valid", "wide_resdnn_dev.csv"), ("test", "wide_resdnn_test.csv")):
        out.append((part, pd.read_csv(paths[f], header=None, names=list(train.columns),
                                      dtype=dtype)))
    return out


def _read_bank(paths, variant="additional"):
    files = {"additional": "bank-additional-full.csv.gz", "full": "bank-full.csv.gz"}
    if variant not in files:
        raise ValueError(f"variant must be 'additional' or 'full'; got {variant!r}")
    return [("all", pd.read_csv(paths[files[variant]], sep=";"))]


_ML_USER = ["user_id", "age", "gender", "occupation", "zip_code"]
_ML_RATING = ["user_id", "item_id", "rating", "timestamp"]


def _read_movielens(paths, split_set="a", binary=False):
    if split_set not in ("a", "b"):
        raise ValueError(f"split_set must be 'a' or 'b'; got {split_set!r}")
    genres = pd.read_csv(paths["u.genre"], sep="|", header=None, names=["genre", "idx"])
    genre_cols = ["genre_" + g.replace("'", "").replace(" ", "_") for g in genres["genre"]]
    items = pd.read_csv(paths["u.item"], sep="|", header=None, encoding="latin-1",
                        names=["item_id", "title", "release_date", "video_release_date",
                               "imdb_url"] + genre_cols)
    year = pd.to_datetime(items["release_date"], format="%d-%b-%Y").dt.year
    items = items[["item_id"] + genre_cols].assign(release_year=year.astype("float64"))
    users = pd.read_csv(paths["u.user"], sep="|", header=None, names=_ML_USER,
                        dtype={"zip_code": "str"})
    out = []
    for part, f in (("all", "u.data"), ("train", f"u{split_set}.base"),
                    ("test", f"u{split_set}.test")):
        r = pd.read_csv(paths[f], sep="\t", header=None, names=_ML_RATING)
        r = r.merge(users, on="user_id", how="left").merge(items, on="item_id", how="left")
        rating = r.pop("rating")
        if binary:
            r["label"] = (rating >= 4).astype("int64")
        else:
            r["rating"] = rating
        out.append((part, r))
    return out


_SPECS = {}


def _add(spec):
    _SPECS[spec.name] = spec


# ---- FOLD-R++ / FOLD-RM / FOLD-SE benchmark tables -------------------------------------------
_add(_Spec("acute", "acute", {"all": "acute.csv"}, "label", _r(2, 6, "a"), ["id"],
           "Acute Inflammations (UCI)"))
_add(_Spec("adult", "adult", {"all": "adult.csv"}, "label",
           ["workclass", "education", "marital_status", "occupation", "relationship", "race",
            "sex", "native_country"], [], "Adult / Census Income (UCI), adult.data part"))
_add(_Spec("anneal", "anneal", {"train": "train.csv", "test": "test.csv"}, "classes", "rest",
           [], "Annealing (UCI)", "multiclass", numeric=["thick", "width", "len"]))
_add(_Spec("autism", "autism", {"all": "autism.csv"}, "label",
           _r(1, 10, "a") + ["gender", "ethnicity", "jaundice", "pdd", "used_app_before",
                             "relation"], ["id"], "Autism Screening Adult (UCI)"))
_add(_Spec("avila", "avila", {"train": "train.csv", "test": "test.csv"}, "class", [], [],
           "Avila (UCI)", "multiclass"))
_add(_Spec("breastw", "breastw", {"all": "breastw.csv"}, "label", [], ["id"],
           "Breast Cancer Wisconsin, original (UCI)",
           note="The nine 1-10 cytology scores are kept numeric (FOLD-RM convention; FOLD-R++ "
                "declares them categorical)."))
_add(_Spec("cars", "cars", {"all": "cars.csv"}, "label", "all", ["id"], "Car Evaluation (UCI)"))
_add(_Spec("credit_a", "credit_a", {"all": "credit.csv"}, "label",
           ["a1", "a4", "a5", "a6", "a7", "a9", "a10", "a12", "a13"], ["id"],
           "Credit Approval / credit-a (UCI)"))
_add(_Spec("credit_card", "credit_card", {"all": "credit_card.csv"}, "DEFAULT_PAYMENT",
           ["SEX", "EDUCATION", "MARRIAGE", "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"],
           ["ID"], "Default of Credit Card Clients (UCI, Taiwan)"))
_add(_Spec("drug", "drug", {"all": "drug.csv"}, "Semer", [], ["ID"],
           "Drug Consumption, quantified (UCI)", "multiclass", post=_post_drug,
           options={"target": "Semer"},
           note="target= picks one of the 19 drug columns (classes CL0..CL6); the other 18 "
                "are dropped. FOLD-RM uses Semer (default), Heroin and Crack."))
_add(_Spec("dry_bean", "dry_bean", {"all": "dry_bean.csv"}, "Class", [], [],
           "Dry Bean (UCI)", "multiclass"))
_add(_Spec("ecoli", "ecoli", {"all": "ecoli.csv"}, "label", ["sn"], [], "Ecoli (UCI)",
           "multiclass", note="'sn' (sequence name, almost unique) is kept as a categorical "
                              "feature as in the FOLD-R++ configuration."))
_add(_Spec("eeg", "eeg", {"all": "eeg.csv"}, "eyeDetection", [], [], "EEG Eye State (UCI)"))
_add(_Spec("flags", "flags", {"all": "flags.csv"}, "religion",
           ["name", "landmass", "zone", "language", "bars", "red", "green", "blue", "gold",
            "white", "black", "orange", "mainhue", "circles", "crosses", "saltires", "quarters",
            "crescent", "triangle", "icon", "animate", "text", "topleft", "botright"], [],
           "Flags (UCI)", "multiclass"))
_add(_Spec("glass", "glass", {"all": "glass.csv"}, "Type", [], ["Id"],
           "Glass Identification (UCI)", "multiclass"))
_add(_Spec("heart", "heart", {"all": "heart.csv"}, "label",
           ["sex", "chest_pain", "fasting_blood_sugar", "resting_electrocardiographic_results",
            "exercise_induced_angina", "slope", "major_vessels", "thal"], ["id"],
           "Statlog Heart (UCI)"))
_add(_Spec("heloc", "heloc", {"all": "heloc_dataset_v1.csv"}, "RiskPerformance", [], [],
           "FICO HELOC", note="Negative codes -7/-8/-9 (no record / not applicable) are kept as "
                              "in the FICO release."))
_add(_Spec("intention", "intention", {"all": "intention.csv"}, "Revenue",
           ["Month", "OperatingSystems", "Browser", "Region", "TrafficType", "VisitorType",
            "Weekend"], [], "Online Shoppers Purchasing Intention (UCI)"))
_add(_Spec("ionosphere", "ionosphere", {"all": "ionosphere.csv"}, "label", ["c1", "c2"], [],
           "Ionosphere (UCI)"))
_add(_Spec("kidney", "kidney", {"all": "kidney.csv"}, "label",
           ["al", "su", "rbc", "pc", "pcc", "ba", "htn", "dm", "cad", "appet", "pe", "ane"],
           ["id"], "Chronic Kidney Disease (UCI)"))
_add(_Spec("krkp", "krkp", {"all": "krkp.csv"}, "label", "all", ["id"],
           "Chess King-Rook vs King-Pawn (UCI)"))
_add(_Spec("mushroom", "mushroom", {"all": "mushroom.csv"}, "label", "all", ["id"],
           "Mushroom (UCI)"))
_add(_Spec("nursery", "nursery", {"all": "nursery.csv"}, "class", "all", [], "Nursery (UCI)",
           "multiclass"))
_add(_Spec("page_blocks", "page_blocks", {"all": "page_blocks.csv"}, "class", [], [],
           "Page Blocks Classification (UCI)", "multiclass"))
_add(_Spec("pendigits", "pendigits", {"train": "train.csv", "test": "test.csv"}, "class", [], [],
           "Pen-Based Recognition of Handwritten Digits (UCI)", "multiclass"))
_add(_Spec("sonar", "sonar", {"all": "sonar.csv"}, "label", [], ["id"],
           "Sonar, Mines vs Rocks (UCI)"))
_add(_Spec("titanic", "titanic", {"train": "train.csv", "test": "test.csv"}, "Survived",
           ["Sex", "Class", "Embarked"], ["Id", "Name", "Ticket", "Cabin"], "Titanic (Kaggle)",
           note="Id and the free-text columns Name, Ticket and Cabin are dropped (unused by "
                "FOLD-R++)."))
_add(_Spec("voting", "voting", {"all": "voting.csv"}, "label", "all", ["id"],
           "Congressional Voting Records (UCI)"))
_add(_Spec("wall_following_robot", "wall_following_robot", {"all": "wall_following_robot.csv"},
           "Class", [], [], "Wall-Following Robot Navigation (UCI)", "multiclass"))
_add(_Spec("weight_lifting", "weight_lifting", {"all": "weight_lifting.csv"}, "classe",
           ["new_window"], ["user_name", "raw_timestamp_part_1", "raw_timestamp_part_2",
                            "cvtd_timestamp", "skewness_roll_belt.1"],
           "Weight Lifting Exercises (UCI HAR)", "multiclass", na_values=("?", "#DIV/0!"),
           note="User, timestamps and a duplicated skewness_roll_belt column are dropped; "
                "'#DIV/0!' cells are NaN."))
_add(_Spec("wine", "wine", {"all": "wine.csv"}, "label", [], [], "Wine (UCI)", "multiclass"))
_add(_Spec("yeast", "yeast", {"all": "yeast.csv"}, "class", ["sequence"], [], "Yeast (UCI)",
           "multiclass", read={"engine": "python", "on_bad_lines": _fix_yeast_line},
           note="Five rows with a spurious empty field after the sequence name are repaired."))
_add(_Spec("rain_australia", "rain_australia", {"all": "weatherAUS.csv.gz"}, "RainTomorrow",
           ["Location", "WindGustDir", "WindDir9am", "WindDir3pm", "RainToday"], [],
           "Rain in Australia (Kaggle weatherAUS)", na_values=("NA",), fold=False, post=_post_rain,
           note="Rows with a missing RainTomorrow (3,267) are dropped; Date is replaced by "
                "Month and Day as in the FOLD papers' preprocessing. Source: GitHub "
                "vineetp6/Rain-Prediction-in-Australia weatherAUS.zip (stored gzipped)."))
_add(_Spec("bank_marketing", "bank_marketing",
           {"additional": "bank-additional-full.csv.gz", "full": "bank-full.csv.gz"}, "y",
           ["job", "marital", "education", "default", "housing", "loan", "contact", "month",
            "day_of_week", "poutcome"], [], "Bank Marketing (UCI, Moro et al. 2014)",
           na_values=(), fold=False, reader=_read_bank, splits=(),
           options={"variant": "additional"},
           note="variant='additional' (bank-additional-full, 41,188 x 21) or 'full' (bank-full, "
                "45,211 x 17). 'unknown' is kept as a category. 'duration' leaks the target."))

# ---- CTR / recommender data ------------------------------------------------------------------
_add(_Spec("frappe", "frappe", {"valid": "valid.csv.gz", "test": "test.csv.gz"}, "label", "all",
           [], "Frappe (NFM split; validation and test parts only)",
           na_values=(), fold=False, reader=_read_frappe, splits=("valid", "test"),
           note="Only the validation (57,722 rows) and test (28,860 rows) parts of the 7:2:1 "
                "NFM split exist in the data folder; the 202,027-row train part is missing, so "
                "split='train' is not available. Field values are the global libfm feature "
                "indices, as categories. Research-only license: do not redistribute."))
_add(_Spec("criteo_sample", "criteo_sample",
           {"head10k": "criteo_head10k.txt", "deepctr": "criteo_sample.txt"}, "label",
           _r(1, 26, "C"), [], "Criteo Display Advertising Challenge sample", na_values=(),
           fold=False, reader=_read_criteo, splits=(), options={"variant": "head10k"},
           note="variant='head10k': first 10,000 rows of Kaggle train.txt (AutoInt repo); "
                "variant='deepctr': DeepCTR's 200-row criteo_sample.txt. I1-I13 are float64 "
                "counts with NaN for missing, C1-C26 categorical hashes. No split."))
_add(_Spec("avazu_sample", "avazu_sample",
           {"train": "wide_resdnn_train.csv", "valid": "wide_resdnn_dev.csv",
            "test": "wide_resdnn_test.csv", "deepctr": "avazu_sample.txt"}, "click",
           ["C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id", "app_domain",
            "app_category", "device_id", "device_ip", "device_model", "device_type",
            "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"],
           ["id"], "Avazu CTR sample (first hour of Kaggle train)", na_values=(), fold=False,
           reader=_read_avazu, splits=("train", "valid", "test"),
           options={"variant": "wide_resdnn"},
           note="variant='wide_resdnn': Wide-ResDNN's random train/valid/test split (8,087 / 480 "
                "/ 432 rows); variant='deepctr': DeepCTR's 100-row sample. 'id' is dropped; "
                "'hour' is constant here."))
_add(_Spec("movielens_100k", "movielens_100k",
           {f: f for f in ("u.data", "u.user", "u.item", "u.genre", "ua.base", "ua.test",
                                "ub.base", "ub.test")}, "rating",
           ["user_id", "item_id", "gender", "occupation", "zip_code"], [],
           "MovieLens 100K (GroupLens)", "regression", na_values=(), fold=False,
           reader=_read_movielens, splits=("train", "test"),
           options={"split_set": "a", "binary": False},
           note="Ratings joined with user demographics and movie release year + 19 genre "
                "flags. split='train'/'test' gives the GroupLens ua (or ub with split_set='b') "
                "base/test files; split=None all 100,000 ratings. binary=True replaces 'rating' "
                "by label = rating >= 4. GroupLens license: do not redistribute."))


def list_datasets():
    """Names of the real data sets that :func:`load_dataset` knows.

    Returns
    -------
    names : list of str
        Sorted data set names.
    """
    return sorted(_SPECS)


def _to_numeric(s, name, dsname):
    if not (pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s)):
        try:
            s = pd.to_numeric(s)
        except (ValueError, TypeError) as exc:  # pragma: no cover - data error
            raise ValueError(f"{dsname}: column {name!r} is not numeric") from exc
    if pd.api.types.is_bool_dtype(s):
        return s
    if pd.api.types.is_integer_dtype(s):
        return s.astype("int64")
    return s.astype("float64")


def _descr(spec, n_rows, split, data_home, n_features, n_categorical):
    title = spec.title or spec.name
    lines = [title, "=" * len(title), ""]
    lines.append(f"Rows: {n_rows}; features: {n_features} ({n_categorical} categorical); "
                 f"target: {spec.target!r} ({spec.task}).")
    splits = spec.split_names()
    lines.append(f"Split: {split if split is not None else 'all shipped rows'} "
                 f"(published parts: {', '.join(splits) if splits else 'none'}).")
    if spec.fold:
        lines.append(_FOLD_NOTE.format(folder=spec.folder))
    if spec.note:
        lines.append(spec.note)
    urls = sorted({REGISTRY[f].url for f in spec.files()})
    lines.append("Original address(es): " + ", ".join(urls))
    src = Path(get_data_home(data_home)) / spec.folder / "SOURCE.md"
    if src.exists():
        lines += ["", src.read_text(encoding="utf-8")]
    return "\n".join(lines)


def load_dataset(name, *, split=None, data_home=None, download_if_missing=True,
                 as_frame=True, return_X_y=False, **options):
    """Load one of the real data sets by name.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    split : str or None, default=None
        Part of a data set that ships a published split (``"train"``, ``"valid"`` or
        ``"test"``, depending on the data set); ``None`` returns all shipped rows (the parts
        concatenated, train first).  Data sets without a published split accept only ``None``.
        Category levels are shared by all parts of a data set.
    data_home : str or path-like, default=None
        Data folder, see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, a missing file raises :class:`FileNotFoundError` naming the file and the
        address it would be downloaded from.
    as_frame : bool or {"pandas", "polars"}, default=True
        True or ``"pandas"``: pandas DataFrame / Series, categorical columns as ``category``;
        ``"polars"``: polars DataFrame / Series with ``pl.Categorical`` columns;
        False: numpy arrays (object dtype when column types are mixed).
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.
    **options
        Data-set specific options: ``variant=`` (criteo_sample, avazu_sample,
        bank_marketing), ``target=`` (drug), ``split_set=`` and ``binary=`` (movielens_100k).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``frame`` (features then target; None when ``as_frame=False``), ``data``, ``target``,
        ``feature_names``, ``target_names`` (sorted class labels; ``[target]`` for
        regression), ``categorical_features``, ``numeric_features``, ``split``, ``DESCR``.
    (data, target) : tuple
        When ``return_X_y=True``.
    """
    if name not in _SPECS:
        raise ValueError(f"Unknown data set {name!r}; choose from {list_datasets()}")
    spec = _SPECS[name]
    unknown = set(options) - set(spec.options)
    if unknown:
        raise TypeError(f"{name}: unexpected option(s) {sorted(unknown)}; "
                        f"accepted: {sorted(spec.options)}")
    opts = {**spec.options, **options}
    splits = spec.split_names()
    if split is not None and (split not in splits or
                              (name == "avazu_sample" and opts["variant"] != "wide_resdnn")):
        hint = " (the frappe train part is not available)" if name == "frappe" else ""
        raise ValueError(f"{name}: split={split!r} is not available; published parts: "
                         f"{list(splits) or 'none (use split=None)'}{hint}")

    paths = {Path(f).name: fetch_file(REGISTRY[f], data_home, download_if_missing)
             for f in spec.files()}
    if spec.reader is not None:
        reader_opts = {k: v for k, v in opts.items() if k not in ("target",)}
        parts = spec.reader(paths, **reader_opts)
    else:
        read = {"na_values": list(spec.na_values), **spec.read}
        parts = [(k, pd.read_csv(paths[f], **read)) for k, f in spec.parts.items()]

    labels = np.concatenate([np.full(len(df), k, dtype=object) for k, df in parts])
    frame = pd.concat([df for _, df in parts], ignore_index=True)
    if spec.post is not None:
        frame = spec.post(frame, **({"target": opts["target"]} if "target" in opts else {}))
    target = opts.get("target", spec.target)
    if name == "movielens_100k" and opts.get("binary"):
        target = "label"
    keep = frame[target].notna().to_numpy()
    frame = frame.drop(columns=[c for c in spec.drop if c in frame.columns])
    features = [c for c in frame.columns if c != target]
    if spec.categorical == "all":
        categorical = list(features)
    elif spec.categorical == "rest":
        categorical = [c for c in features if c not in spec.numeric]
    else:
        categorical = [c for c in spec.categorical if c in features]
    cols = {}
    for c in features:
        if c in categorical:
            cols[c] = frame[c].astype("category")
        else:
            cols[c] = _to_numeric(frame[c], c, name)
    cols[target] = frame[target]
    frame = pd.DataFrame(cols)
    if spec.reader is _read_movielens:  # u.data holds every rating; base/test re-split it
        sel = keep & (labels == ("all" if split is None else split))
    else:
        sel = keep if split is None else keep & (labels == split)
    if not sel.all():
        frame = frame[sel].reset_index(drop=True)

    numeric = [c for c in features if c not in categorical]
    descr = _descr(spec, len(frame), split, data_home, len(features), len(categorical))
    extra = dict(categorical_features=categorical, numeric_features=numeric, split=split)
    if spec.task == "regression":
        extra["target_names"] = [target]
    return make_bunch(frame, features, target, as_frame, return_X_y, descr, **extra)


# ---- thin public loaders ---------------------------------------------------------------------

_COMMON_PARAMS = """\
data_home : str or path-like, default=None
    Data folder, see :func:`get_data_home` (``TABNN_DATA`` or ``~/.cache/tabnn``).
download_if_missing : bool, default=True
    If False, a missing file raises :class:`FileNotFoundError` naming the file and the
    address it would be downloaded from; otherwise it is downloaded, its SHA-256 checked
    and cached in the data home.
as_frame : bool or {{"pandas", "polars"}}, default=True
    pandas (True / ``"pandas"``), polars (``"polars"``) or numpy (False) output.
return_X_y : bool, default=False
    Return ``(data, target)`` instead of a Bunch.
"""

_OPTION_DOCS = {
    "variant": "variant : str, default={default!r}\n    Which file of the data set, see "
               "the notes below.\n",
    "target": "target : str, default={default!r}\n    Drug column used as the target.\n",
    "split_set": "split_set : {{'a', 'b'}}, default={default!r}\n    GroupLens held-out "
                 "split used by ``split='train'`` / ``'test'`` (ua.* or ub.*).\n",
    "binary": "binary : bool, default={default!r}\n    Replace ``rating`` by a 0/1 "
              "``label`` (rating >= 4), the usual CTR framing.\n",
}


def _make_loader(name):
    import inspect

    spec = _SPECS[name]
    splits = spec.split_names()

    def loader(*, split=None, data_home=None, download_if_missing=True, as_frame=True,
               return_X_y=False, **options):
        return load_dataset(name, split=split, data_home=data_home,
                            download_if_missing=download_if_missing, as_frame=as_frame,
                            return_X_y=return_X_y, **options)

    params = [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=d) for p, d in
              (("split", None), ("data_home", None), ("download_if_missing", True),
               ("as_frame", True), ("return_X_y", False))]
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v)
               for k, v in spec.options.items()]
    if not splits:
        params = params[1:]
    loader.__signature__ = inspect.Signature(params)
    loader.__name__ = loader.__qualname__ = f"load_{name}"
    split_doc = (
        f"split : {{{', '.join(repr(s) for s in splits)}}} or None, default=None\n"
        f"    Published part to load; None loads all of them (category levels are shared).\n"
        if splits else "")
    opt_doc = "".join(_OPTION_DOCS[k].format(default=v) for k, v in spec.options.items())
    title = spec.title or name
    notes = []
    if spec.fold:
        notes.append(_FOLD_NOTE.format(folder=spec.folder))
    if spec.note:
        notes.append(spec.note)
    if not splits and name not in ("criteo_sample", "bank_marketing"):
        notes.append("No published train/test split; the FOLD papers use 10-fold CV.")
    cat = ("all features categorical" if spec.categorical == "all" else
           f"categorical: {', '.join(spec.categorical)}" if isinstance(spec.categorical, list)
           and spec.categorical else
           f"numeric: {', '.join(spec.numeric)}; every other feature categorical"
           if spec.categorical == "rest" else "all features numeric")
    loader.__doc__ = (
        f"Load the {title} data set ({spec.task}, target ``{spec.target}``).\n\n"
        f"Column types: {cat}.\n\n"
        f"Parameters\n----------\n{split_doc}{opt_doc}{_COMMON_PARAMS.format()}\n"
        f"Returns\n-------\nbunch : sklearn.utils.Bunch\n"
        f"    ``frame``, ``data``, ``target``, ``feature_names``, ``target_names``,\n"
        f"    ``categorical_features``, ``numeric_features``, ``split``, ``DESCR``.\n"
        f"(data, target) : tuple\n    When ``return_X_y=True``.\n\n"
        f"Notes\n-----\n" + "\n".join(notes) + "\n\nSee Also\n--------\nload_dataset\n"
    )
    return loader


load_acute = _make_loader("acute")
load_adult = _make_loader("adult")
load_anneal = _make_loader("anneal")
load_autism = _make_loader("autism")
load_avazu_sample = _make_loader("avazu_sample")
load_avila = _make_loader("avila")
load_bank_marketing = _make_loader("bank_marketing")
load_breastw = _make_loader("breastw")
load_cars = _make_loader("cars")
load_credit_a = _make_loader("credit_a")
load_credit_card = _make_loader("credit_card")
load_criteo_sample = _make_loader("criteo_sample")
load_drug = _make_loader("drug")
load_dry_bean = _make_loader("dry_bean")
load_ecoli = _make_loader("ecoli")
load_eeg = _make_loader("eeg")
load_flags = _make_loader("flags")
load_frappe = _make_loader("frappe")
load_glass = _make_loader("glass")
load_heart = _make_loader("heart")
load_heloc = _make_loader("heloc")
load_intention = _make_loader("intention")
load_ionosphere = _make_loader("ionosphere")
load_kidney = _make_loader("kidney")
load_krkp = _make_loader("krkp")
load_movielens_100k = _make_loader("movielens_100k")
load_mushroom = _make_loader("mushroom")
load_nursery = _make_loader("nursery")
load_page_blocks = _make_loader("page_blocks")
load_pendigits = _make_loader("pendigits")
load_rain_australia = _make_loader("rain_australia")
load_sonar = _make_loader("sonar")
load_titanic = _make_loader("titanic")
load_voting = _make_loader("voting")
load_wall_following_robot = _make_loader("wall_following_robot")
load_weight_lifting = _make_loader("weight_lifting")
load_wine = _make_loader("wine")
load_yeast = _make_loader("yeast")

LOADERS = {name: globals()[f"load_{name}"] for name in _SPECS}

#: FOLD-SE paper data sets (binary and multi-class), for benchmark loops.
FOLD_BINARY = ["acute", "autism", "breastw", "cars", "credit_a", "ecoli", "heart", "ionosphere",
               "kidney", "krkp", "mushroom", "voting", "adult", "credit_card", "rain_australia"]
FOLD_MULTICLASS = ["nursery", "pendigits", "wine", "page_blocks", "anneal", "dry_bean"]
