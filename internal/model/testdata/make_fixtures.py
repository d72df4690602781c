#!/usr/bin/python3
"""Generate the scikit-learn fixtures strata's model loader is tested against.

Run with Debian's interpreter (python3-sklearn 1.2.1, python3-joblib), from
anywhere:

    /usr/bin/python3 internal/model/testdata/make_fixtures.py          # rewrite fixtures
    /usr/bin/python3 internal/model/testdata/make_fixtures.py --check  # CI: compare goldens

It trains every supported estimator on scikit-learn's bundled data sets (no
downloads), saves each with pickle (protocols 2, 4, 5) and joblib (plain and
compressed), and writes golden outputs (predict, predict_proba) as JSON with
every float written exactly as float.hex(). Tree models also get threshold-edge
rows: each split threshold exactly, one float64 step each side, and the float32
the threshold rounds to with one float32 step each side.

--check regenerates everything into a temporary directory and compares the
golden JSON (not the pickle bytes, which embed nothing deterministic enough to
diff) with the committed files, exiting 1 on any difference. Labels must match
exactly; floats must match to --rtol (default 1e-12 relative, because BLAS and
numpy's exp/log pick CPU-specific kernels; pass --rtol 0 to demand bit
equality on the machine that wrote the fixtures).

The hostile pickles under hostile/ are written by hand-made __reduce__ methods
and are never loaded by Python: their payload would create a marker file.
"""

import argparse
import json
import math
import os
import pickle
import pickletools
import shutil
import subprocess
import sys
import tempfile

import joblib
import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = os.path.dirname(os.path.abspath(__file__))

# Marker file the hostile payloads would create; the Go tests assert it never appears.
MARKER = "/tmp/strata-model-hostile-pickle-ran"

# File formats every model is written in: suffix -> writer.
FORMATS = {
    "p2.pkl": lambda m, p: _pickle(m, p, 2),
    "p4.pkl": lambda m, p: _pickle(m, p, 4),
    "p5.pkl": lambda m, p: _pickle(m, p, 5),
    "joblib": lambda m, p: joblib.dump(m, p),
    "joblib.z": lambda m, p: joblib.dump(m, p, compress=("zlib", 3)),
    "joblib.gz": lambda m, p: joblib.dump(m, p, compress=("gzip", 3)),
    "joblib.xz": lambda m, p: joblib.dump(m, p, compress=("xz", 3)),
    "joblib.lzma": lambda m, p: joblib.dump(m, p, compress=("lzma", 3)),
    "joblib.bz2": lambda m, p: joblib.dump(m, p, compress=("bz2", 3)),
}

MAX_ROWS = 30  # ordinary rows per model
MAX_EDGE_THRESHOLDS = 200  # distinct (feature, threshold) pairs per model


def _pickle(model, path, protocol):
    with open(path, "wb") as f:
        pickle.dump(model, f, protocol=protocol)


def hexf(x):
    return float(x).hex()


def label(v):
    """A class label as JSON: ints and strings as themselves, floats as {"f": hex}."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return {"f": hexf(v)}
    if isinstance(v, (str, np.str_)):
        return str(v)
    raise TypeError(f"unsupported label {v!r}")


def data(name):
    loader = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer, "diabetes": load_diabetes}[name]
    ds = loader()
    X, y = ds.data, ds.target
    return X, y, getattr(ds, "target_names", None)


def split(X, y):
    return train_test_split(X, y, test_size=0.2, random_state=42)


def trees_of(model):
    """The fitted sklearn Tree objects a model predicts with."""
    if hasattr(model, "tree_"):
        return [model.tree_]
    if isinstance(model, (GradientBoostingClassifier, GradientBoostingRegressor)):
        return [e.tree_ for e in model.estimators_.ravel()]
    if hasattr(model, "estimators_"):
        return [e.tree_ for e in model.estimators_]
    return []


def edge_values(model):
    """(feature, value) pairs on split thresholds or one float step beside them."""
    pairs = []
    seen = set()
    for t in trees_of(model):
        for f, thr in zip(t.feature, t.threshold):
            if f < 0 or (f, thr) in seen:
                continue
            seen.add((f, thr))
            pairs.append((int(f), float(thr)))
    if len(pairs) > MAX_EDGE_THRESHOLDS:
        idx = np.linspace(0, len(pairs) - 1, MAX_EDGE_THRESHOLDS).round().astype(int)
        pairs = [pairs[i] for i in sorted(set(idx))]
    edges = []
    for f, thr in pairs:
        f32 = np.float32(thr)
        values = [
            thr,
            np.nextafter(thr, -np.inf),
            np.nextafter(thr, np.inf),
            float(f32),
            float(np.nextafter(f32, np.float32(-np.inf))),
            float(np.nextafter(f32, np.float32(np.inf))),
        ]
        edges += [(f, float(v)) for v in values]
    return edges


def with_edges(rows, edges):
    """rows followed by one copy of rows[0] per edge, its feature set to the edge value."""
    out = [np.array(r, dtype=np.float64) for r in rows]
    for f, v in edges:
        r = np.array(rows[0], dtype=np.float64)
        r[f] = v
        out.append(r)
    return np.array(out)


def models():
    """(name, estimator, X_fit, y_fit, X_rows, tree_edges) for every fixture."""
    out = []

    # The article's model: 100 trees on the iris training split.
    X, y, _ = data("iris")
    Xtr, Xte, ytr, yte = split(X, y)
    out.append(("rfc_iris", RandomForestClassifier(n_estimators=100, random_state=42), Xtr, ytr, Xte, True))

    X, y, names = data("wine")
    Xtr, Xte, ytr, yte = split(X, y)
    out.append(("dtc_wine", DecisionTreeClassifier(random_state=0), Xtr, ytr, Xte, True))
    # String labels held in a numpy unicode array ('<U7').
    ystr = np.array([f"class_{v}" for v in ytr])
    out.append(("etc_wine_str", ExtraTreesClassifier(n_estimators=5, max_depth=4, random_state=0), Xtr, ystr, Xte, True))
    out.append(("gbc_wine_multi", GradientBoostingClassifier(n_estimators=8, max_depth=2, random_state=0), Xtr, ytr, Xte, True))

    X, y, names = data("breast_cancer")
    Xtr, Xte, ytr, yte = split(X, y)
    # String labels held in an object array.
    yobj = np.array([names[v] for v in ytr], dtype=object)
    out.append(("rfc_bc_objstr", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), Xtr, yobj, Xte, True))
    out.append(("dtc_bc_bool", DecisionTreeClassifier(max_depth=5, random_state=0), Xtr, ytr == 1, Xte, True))
    out.append(("gbc_bc", GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0), Xtr, ytr, Xte, True))
    out.append(("gbc_bc_exp", GradientBoostingClassifier(loss="exponential", n_estimators=6, max_depth=2, random_state=0), Xtr, ytr, Xte, True))
    out.append(("gbc_bc_zero", GradientBoostingClassifier(init="zero", n_estimators=6, max_depth=2, random_state=0), Xtr, ytr.astype(np.float64), Xte, True))
    out.append(("pipe_std_lr_bc", Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=1000))]), Xtr, ytr, Xte, False))
    out.append(("pipe_std_lr_bc_multinomial", Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(multi_class="multinomial", max_iter=1000))]), Xtr, ytr, Xte, False))
    out.append(("pipe_minmax_rfc_bc", Pipeline([("scale", MinMaxScaler()), ("rf", RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0))]), Xtr, ytr, Xte, False))

    X, y, names = data("iris")
    Xtr, Xte, ytr, yte = split(X, y)
    out.append(("lr_iris_multinomial", LogisticRegression(max_iter=1000), Xtr, ytr, Xte, False))
    out.append(("lr_iris_ovr_str", LogisticRegression(multi_class="ovr", max_iter=1000), Xtr, np.array([names[v] for v in ytr]), Xte, False))
    out.append(("gbc_iris", GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0), Xtr, ytr, Xte, True))

    X, y, _ = data("diabetes")
    Xtr, Xte, ytr, yte = split(X, y)
    out.append(("dtr_diabetes", DecisionTreeRegressor(max_depth=6, random_state=0), Xtr, ytr, Xte, True))
    out.append(("rfr_diabetes", RandomForestRegressor(n_estimators=5, max_depth=5, random_state=0), Xtr, ytr, Xte, True))
    out.append(("etr_diabetes", ExtraTreesRegressor(n_estimators=5, max_depth=5, random_state=0), Xtr, ytr, Xte, True))
    out.append(("gbr_diabetes", GradientBoostingRegressor(n_estimators=12, max_depth=3, random_state=0), Xtr, ytr, Xte, True))
    out.append(("gbr_diabetes_huber", GradientBoostingRegressor(loss="huber", n_estimators=8, max_depth=2, random_state=0), Xtr, ytr, Xte, True))
    out.append(("linreg_diabetes", LinearRegression(), Xtr, ytr, Xte, False))
    out.append(("ridge_diabetes", Ridge(alpha=1.0), Xtr, ytr, Xte, False))
    out.append(("lasso_diabetes", Lasso(alpha=0.1), Xtr, ytr, Xte, False))
    out.append(("enet_diabetes", ElasticNet(alpha=0.01, l1_ratio=0.5), Xtr, ytr, Xte, False))
    out.append(("pipe_stdnomean_lasso_diabetes", Pipeline([("std", StandardScaler(with_mean=False)), ("lasso", Lasso(alpha=0.05))]), Xtr, ytr, Xte, False))
    out.append(("pipe_std_minmax_ridge_diabetes", Pipeline([("std", StandardScaler()), ("mm", MinMaxScaler()), ("ridge", Ridge(alpha=0.5))]), Xtr, ytr, Xte, False))
    return out


def golden(name, model, rows, n_ordinary, edges, formats):
    est = model.steps[-1][1] if isinstance(model, Pipeline) else model
    g = {
        "name": name,
        "estimator": type(model).__name__
        if not isinstance(model, Pipeline)
        else "Pipeline(" + ", ".join(type(s).__name__ for _, s in model.steps) + ")",
        "class": type(model).__module__ + "." + type(model).__name__,
        "sklearn_version": sklearn.__version__,
        "n_features": int(model.n_features_in_),
        "formats": formats,
        "rows": [[hexf(v) for v in r] for r in rows[:n_ordinary]],
        # Edge rows follow the ordinary rows: rows[0] with feature f set to v.
        "edges": [[f, hexf(v)] for f, v in edges],
        "predict": [],
    }
    pred = model.predict(rows)
    if hasattr(est, "classes_"):
        g["classes"] = [label(c) for c in est.classes_]
        g["predict"] = [label(v) for v in pred]
        g["predict_proba"] = [[hexf(v) for v in r] for r in model.predict_proba(rows)]
    else:
        g["predict"] = [hexf(v) for v in pred]
    return g


def sk13_tree_fixture(outdir):
    """A DecisionTreeClassifier whose Tree carries sklearn 1.3's node layout.

    sklearn 1.2 cannot build it, so the pickle is assembled by hand: the real
    1.2 tree's nodes are copied into a structured array with the extra
    missing_go_to_left field, and the goldens come from a reference traversal
    written here (float32 cast, NaN follows missing_go_to_left).
    """
    from sklearn.tree._tree import Tree

    X, y, _ = data("iris")
    Xtr, Xte, ytr, yte = split(X, y)
    clf = DecisionTreeClassifier(max_depth=4, random_state=0).fit(Xtr, ytr)
    t = clf.tree_
    st = t.__getstate__()
    old = st["nodes"]
    dt13 = np.dtype(
        {
            "names": ["left_child", "right_child", "feature", "threshold", "impurity",
                      "n_node_samples", "weighted_n_node_samples", "missing_go_to_left"],
            "formats": [np.intp, np.intp, np.intp, np.float64, np.float64, np.intp, np.float64, np.uint8],
            "offsets": [0, 8, 16, 24, 32, 40, 48, 56],
            "itemsize": 64,
        }
    )
    nodes = np.zeros(old.shape, dtype=dt13)
    for f in old.dtype.names:
        nodes[f] = old[f]
    # Alternate the missing-value direction so both branches are exercised.
    nodes["missing_go_to_left"] = np.arange(len(nodes)) % 2
    state = dict(st, nodes=nodes)

    class Tree13:
        def __reduce__(self):
            return (Tree, (t.n_features, np.array([t.n_classes[0]], dtype=np.intp), t.n_outputs), state)

    clf.tree_ = Tree13()

    def proba(row):
        i = 0
        while nodes["left_child"][i] != -1:
            f = nodes["feature"][i]
            v = np.float32(row[f])
            if np.isnan(v):
                i = nodes["left_child"][i] if nodes["missing_go_to_left"][i] else nodes["right_child"][i]
            elif float(v) <= nodes["threshold"][i]:
                i = nodes["left_child"][i]
            else:
                i = nodes["right_child"][i]
        v = st["values"][i, 0, :]
        s = 0.0
        for x in v:
            s += x
        return v / (s if s != 0 else 1.0), int(np.argmax(v))

    rows = [r for r in Xte[:10]]
    for i in range(4):
        r = np.array(Xte[i])
        r[i] = np.nan
        rows.append(r)
        r = np.array(Xte[i])
        r[:] = np.nan
        rows.append(r)
    rows = np.array(rows)
    _pickle(clf, os.path.join(outdir, "models", "dtc_iris_sk13.p5.pkl"), 5)
    g = {
        "name": "dtc_iris_sk13",
        "estimator": "DecisionTreeClassifier",
        "class": "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn_version": sklearn.__version__,
        "n_features": 4,
        "formats": ["p5.pkl"],
        "rows": [[hexf(v) for v in r] for r in rows],
        "edges": [],
        "classes": [label(c) for c in clf.classes_],
        "predict": [],
        "predict_proba": [],
        "allows_nan": True,
    }
    for r in rows:
        p, k = proba(r)
        g["predict"].append(label(clf.classes_[k]))
        g["predict_proba"].append([hexf(v) for v in p])
    return g


def sk14_gb_fixture(outdir, name, dataset, loss_old, loss_new):
    """A GradientBoostingClassifier pickle whose loss is named as sklearn 1.4+
    names it (sklearn._loss.loss.*), with goldens computed the 1.4 way.

    sklearn 1.2 cannot fit such a model, so the 1.2 model is pickled with
    protocol 2 and its loss class renamed; the goldens replay sklearn 1.4's
    arithmetic with the same building blocks: _init_raw_predictions
    (clip, then LogitLink.link = scipy logit, or MultinomialLogit.link =
    log(p / gmean(p))), predict_stages, and expit / softmax.
    """
    from scipy.special import expit, logit
    from scipy.stats import gmean
    from sklearn.ensemble._gradient_boosting import predict_stages
    from sklearn.utils.extmath import softmax

    X, y, _ = data(dataset)
    Xtr, Xte, ytr, yte = split(X, y)
    gb = GradientBoostingClassifier(n_estimators=6, max_depth=2, random_state=0).fit(Xtr, ytr)
    raw_pickle = pickle.dumps(gb, protocol=2)
    old = b"csklearn.ensemble._gb_losses\n" + loss_old.encode() + b"\n"
    assert raw_pickle.count(old) == 1, old
    with open(os.path.join(outdir, "models", f"{name}.p2.pkl"), "wb") as f:
        f.write(raw_pickle.replace(old, b"csklearn._loss.loss\n" + loss_new.encode() + b"\n"))

    rows = np.array(Xte[:MAX_ROWS], dtype=np.float64)
    eps = np.finfo(np.float32).eps
    p = np.clip(gb.init_.predict_proba(rows), eps, 1 - eps, dtype=np.float64)
    if len(gb.classes_) == 2:
        raw = logit(p[:, 1]).reshape(-1, 1)
    else:
        raw = np.log(p / gmean(p, axis=1)[:, np.newaxis])
    raw = np.ascontiguousarray(raw, dtype=np.float64)
    predict_stages(gb.estimators_, rows.astype(np.float32), gb.learning_rate, raw)
    if raw.shape[1] == 1:
        proba = np.empty((len(rows), 2))
        proba[:, 1] = expit(raw[:, 0])
        proba[:, 0] = 1 - proba[:, 1]
        enc = (raw[:, 0] >= 0).astype(int)
    else:
        proba = softmax(raw, copy=True)
        enc = np.argmax(raw, axis=1)
    return {
        "name": name,
        "estimator": "GradientBoostingClassifier",
        "class": "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn_version": sklearn.__version__,
        "n_features": int(gb.n_features_in_),
        "formats": ["p2.pkl"],
        "rows": [[hexf(v) for v in r] for r in rows],
        "edges": [],
        "classes": [label(c) for c in gb.classes_],
        "predict": [label(gb.classes_[k]) for k in enc],
        "predict_proba": [[hexf(v) for v in r] for r in proba],
    }


def renamed_numpy2(src, dst):
    """Rewrite a pickle as numpy 2 writes it: numpy.core.* becomes numpy._core.*.

    Re-emits the opcodes without FRAMEs so string lengths can change.
    """
    with open(src, "rb") as f:
        data = f.read()
    out = bytearray()
    ops = list(pickletools.genops(data))
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        raw = data[pos:end]
        if op.name == "FRAME":
            continue
        if op.name == "SHORT_BINUNICODE" and arg.startswith("numpy.core"):
            s = arg.replace("numpy.core", "numpy._core", 1).encode()
            raw = b"\x8c" + bytes([len(s)]) + s
        elif op.name == "GLOBAL" and arg.startswith("numpy.core"):
            raw = b"c" + arg.replace("numpy.core", "numpy._core", 1).replace(" ", "\n").encode() + b"\n"
        out += raw
    with open(dst, "wb") as f:
        f.write(bytes(out))


class _Payload:
    """Pickles as a call to func(*args); never unpickled by this script."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def hostile(outdir):
    d = os.path.join(outdir, "hostile")
    os.makedirs(d, exist_ok=True)
    touch = f"touch {MARKER}"
    cases = {
        "os_system.p4.pkl": (_Payload(os.system, (touch,)), 4),
        "os_system.p2.pkl": (_Payload(os.system, (touch,)), 2),
        "subprocess_check_output.p5.pkl": (_Payload(subprocess.check_output, (["touch", MARKER],)), 5),
        "builtins_eval.p4.pkl": (_Payload(eval, (f"__import__('os').system({touch!r})",)), 4),
        "nested_in_dict.p4.pkl": ({"model": "fine", "payload": [1, _Payload(os.system, (touch,))]}, 4),
    }
    for fname, (obj, proto) in cases.items():
        _pickle(obj, os.path.join(d, fname), proto)
    # A valid fitted estimator whose state carries the payload.
    X, y, _ = data("iris")
    clf = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
    clf.__dict__["notes"] = _Payload(os.system, (touch,))
    _pickle(clf, os.path.join(d, "nested_in_estimator.p5.pkl"), 5)
    # The same inside a joblib file, after the numpy array data.
    joblib.dump(clf, os.path.join(d, "nested_in_estimator.joblib"))
    with open(os.path.join(d, "README"), "w") as f:
        f.write(
            "Hostile pickles written by make_fixtures.py. Each would run\n"
            f"`touch {MARKER}` (or similar) if unpickled by Python.\n"
            "Never load them with Python; strata's loader must refuse them.\n"
        )


def generate(outdir):
    for sub in ("models", "golden"):
        os.makedirs(os.path.join(outdir, sub), exist_ok=True)
    for name, model, Xfit, yfit, Xrows, edges in models():
        model.fit(Xfit, yfit)
        rows = np.array(Xrows[:MAX_ROWS], dtype=np.float64)
        n_ordinary = len(rows)
        ev = edge_values(model) if edges else []
        formats = list(FORMATS)
        for suffix in formats:
            FORMATS[suffix](model, os.path.join(outdir, "models", f"{name}.{suffix}"))
        g = golden(name, model, with_edges(rows, ev), n_ordinary, ev, formats)
        if name in ("dtc_wine", "gbc_iris"):
            # numpy 2 spells its modules numpy._core.*.
            for p in ("p2", "p5"):
                renamed_numpy2(os.path.join(outdir, "models", f"{name}.{p}.pkl"), os.path.join(outdir, "models", f"{name}.np2.{p}.pkl"))
                g["formats"].append(f"np2.{p}.pkl")
        write_json(os.path.join(outdir, "golden", f"{name}.json"), g)
    write_json(os.path.join(outdir, "golden", "dtc_iris_sk13.json"), sk13_tree_fixture(outdir))
    for name, ds, old, new in [
        ("gbc_iris_sk14", "iris", "MultinomialDeviance", "HalfMultinomialLoss"),
        ("gbc_bc_sk14", "breast_cancer", "BinomialDeviance", "HalfBinomialLoss"),
    ]:
        write_json(os.path.join(outdir, "golden", f"{name}.json"), sk14_gb_fixture(outdir, name, ds, old, new))
    hostile(outdir)


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def close(a, b, rtol):
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str) and a.startswith(("0x", "-0x")) and b.startswith(("0x", "-0x")):
        x, y = float.fromhex(a), float.fromhex(b)
        return abs(x - y) <= rtol * max(abs(x), abs(y))
    return False


def compare(path_a, path_b, rtol):
    with open(path_a) as f:
        a = json.load(f)
    with open(path_b) as f:
        b = json.load(f)
    diffs = []

    def walk(x, y, where):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k == "sklearn_version" and k in x and k in y:
                    continue
                if k not in x or k not in y:
                    diffs.append(f"{where}.{k}: present in only one")
                else:
                    walk(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                diffs.append(f"{where}: length {len(x)} != {len(y)}")
                return
            for i, (p, q) in enumerate(zip(x, y)):
                walk(p, q, f"{where}[{i}]")
        elif not close(x, y, rtol):
            diffs.append(f"{where}: {x!r} != {y!r}")

    walk(a, b, os.path.basename(path_a))
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare goldens")
    ap.add_argument("--rtol", type=float, default=1e-12, help="relative float tolerance for --check")
    args = ap.parse_args()
    if args.check:
        tmp = tempfile.mkdtemp(prefix="strata-fixtures-")
        try:
            generate(tmp)
            want = sorted(os.listdir(os.path.join(HERE, "golden")))
            got = sorted(os.listdir(os.path.join(tmp, "golden")))
            failed = False
            if want != got:
                print(f"golden files differ: committed {want}, regenerated {got}")
                failed = True
            for name in sorted(set(want) & set(got)):
                diffs = compare(os.path.join(HERE, "golden", name), os.path.join(tmp, "golden", name), args.rtol)
                for d in diffs[:20]:
                    print(d)
                if diffs:
                    print(f"{name}: {len(diffs)} differences")
                    failed = True
            print("fixtures: goldens differ" if failed else f"fixtures: {len(want)} golden files match")
            sys.exit(1 if failed else 0)
        finally:
            shutil.rmtree(tmp)
    for sub in ("models", "golden", "hostile"):
        shutil.rmtree(os.path.join(HERE, sub), ignore_errors=True)
    generate(HERE)


if __name__ == "__main__":
    main()
