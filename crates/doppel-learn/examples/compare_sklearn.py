"""Throwaway: the scikit-learn side of examples/compare.rs (same column typing and encoding).

bench/.venv/bin/python crates/doppel-learn/examples/compare_sklearn.py TRAIN.csv HOLDOUT.csv TARGET \
    [--objective binary|multiclass|regression] [--drop COL,COL] [--out PREDICTIONS.txt]
"""

import argparse
import csv
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import f1_score, r2_score, roc_auc_score


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return header, [[r[i] for r in body] for i in range(len(header))]


def is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("holdout")
    parser.add_argument("target")
    parser.add_argument("--objective", default="binary")
    parser.add_argument("--drop", default="")
    parser.add_argument("--out")
    args = parser.parse_args()
    drop = set(args.drop.split(",")) if args.drop else set()

    header, train = read(args.train)
    _, holdout = read(args.holdout)
    t = header.index(args.target)
    if args.objective == "regression":
        y_train = np.array([float(v) for v in train[t]])
        y_holdout = np.array([float(v) for v in holdout[t]])
    else:
        classes = sorted(set(train[t]))
        y_train = np.array([classes.index(v) for v in train[t]])
        y_holdout = np.array([classes.index(v) for v in holdout[t]])

    xs_train, xs_holdout, mask = [], [], []
    for i, name in enumerate(header):
        if i == t or name in drop:
            continue
        numeric = all(v == "" or is_number(v) for v in train[i] + holdout[i])
        if numeric:
            conv = lambda v: np.nan if v == "" else float(v)
            xs_train.append([conv(v) for v in train[i]])
            xs_holdout.append([conv(v) for v in holdout[i]])
        else:
            codes = {v: c for c, v in enumerate(sorted(set(v for v in train[i] if v != "")))}
            xs_train.append([codes.get(v, np.nan) for v in train[i]])
            xs_holdout.append([codes.get(v, np.nan) for v in holdout[i]])
        mask.append(not numeric)
    X_train = np.array(xs_train, dtype=float).T
    X_holdout = np.array(xs_holdout, dtype=float).T
    settings = dict(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        l2_regularization=0.0,
        max_bins=255,
        early_stopping=False,
        categorical_features=np.array(mask),
    )
    if args.objective == "regression":
        model = HistGradientBoostingRegressor(**settings)
    else:
        model = HistGradientBoostingClassifier(**settings)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"fit seconds: min {times[0]:.3f} median {times[2]:.3f}")
    if args.objective == "regression":
        p = model.predict(X_holdout)
        print(f"holdout R2: {r2_score(y_holdout, p):.6f}")
    elif args.objective == "binary":
        p = model.predict_proba(X_holdout)[:, 1]
        print(f"holdout AUC: {roc_auc_score(y_holdout, p):.6f}")
    else:
        p = model.predict_proba(X_holdout)
        predicted = p.argmax(axis=1)
        print(f"holdout macro F1: {f1_score(y_holdout, predicted, average='macro'):.6f}")
        p = p.reshape(-1)
    if args.out:
        np.savetxt(args.out, p, fmt="%.17e")


if __name__ == "__main__":
    main()
