"""Churn reasons computed when shown, for a workspace too large to explain everyone at build time.

Past ``model_fit_customers`` the build (tools.precompute) writes reasons only for the customers the
at-risk list shows first; for the others it keeps the fitted model (artefacts/churn_model.pkl) and
their scoring features (artefact churn_deferred). :func:`fill_reasons` gives any rows of the churn
artefact their reasons — the text the build would have written (the explanation of one row does
not depend on the others) — computed for those rows only, in milliseconds.
"""
from __future__ import annotations

import pickle
import threading

import pandas as pd
import pyarrow.parquet as pq

__all__ = ["save_deferred", "fill_reasons", "MODEL_FILE"]

MODEL_FILE = "churn_model.pkl"
DEFERRED = "churn_deferred"
_models: dict[str, object] = {}
_lock = threading.Lock()


def save_deferred(ws, model, features: pd.DataFrame) -> None:
    """Keep the model and the features of the rows whose reasons are left for later (sorted by customer_id in
    small row groups: the rows shown are read by the row groups' statistics, not the whole file)."""
    from tools.orders_index import ROW_GROUP
    ws.write_artefact(DEFERRED, features.rename_axis("customer_id").reset_index().sort_values(
        "customer_id", kind="stable", ignore_index=True), row_group_size=ROW_GROUP)
    ws.artefacts_dir.mkdir(parents=True, exist_ok=True)
    (ws.artefacts_dir / MODEL_FILE).write_bytes(pickle.dumps(model))   # our own file, written by this build


def _model(ws):
    path = ws.artefacts_dir / MODEL_FILE
    key = str(path)
    with _lock:
        if key not in _models:
            _models[key] = pickle.loads(path.read_bytes())
        return _models[key]


def fill_reasons(ws, rows: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """``rows`` of the churn artefact (indexed by customer_id) with every deferred row's
    reasons_en / reasons_zh filled in; rows already explained are returned as they are."""
    if "reasons_deferred" not in rows.columns or not rows["reasons_deferred"].fillna(False).astype(bool).any():
        return rows
    todo = rows.index[rows["reasons_deferred"].fillna(False).astype(bool)].astype(str)
    path = ws.artefact_path(DEFERRED)
    if not path.is_file() or not (ws.artefacts_dir / MODEL_FILE).is_file():
        return rows
    feats = pq.read_table(path, filters=[("customer_id", "in", sorted(set(todo)))]).to_pandas().set_index("customer_id")
    if feats.empty:
        return rows
    why = _model(ws).reasons(feats, top=top)
    en = why.groupby("row", sort=False)["text_en"].agg("; ".join)
    zh = why.groupby("row", sort=False)["text_zh"].agg("；".join)
    out = rows.copy()
    hit = out.index.isin(feats.index)
    ids = out.index[hit]
    out.loc[hit, "reasons_en"] = en.reindex(ids).fillna("").to_numpy()
    out.loc[hit, "reasons_zh"] = zh.reindex(ids).fillna("").to_numpy()
    out.loc[hit, "reasons_deferred"] = False
    return out
