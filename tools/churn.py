"""Churn probability: a calibrated classifier for any labelled customer table, and a CRM churn
model built from the canonical orders / customers / feedback tables by a time split.

Two entry points:

* :func:`fit_tabular` — any labelled table (e.g. IBM Telco churn). Mixed numeric and
  categorical columns; blank strings are missing; numeric-looking text is converted; id-like
  columns are dropped. Two candidates are compared by 5-fold stratified cross-validated ROC AUC
  on the training part:

  - ``logistic_regression``: numeric → median impute → [standardised value, standardised
    signed log1p(value)] + missing-value indicators; categorical → most-frequent impute →
    one-hot (``handle_unknown="ignore"``); ``LogisticRegression(C=1)``. The log copy lets the
    linear model bend on skewed columns (tenure, spend); on Telco it lifts the hold-out AUC
    from ≈0.847 to ≈0.852 (mean over 22 stratified 80/20 splits).
  - ``hist_gradient_boosting``: numeric passthrough, categorical ordinal-encoded and handled
    natively by ``HistGradientBoostingClassifier``.

  The winner (ties → logistic regression) is calibrated with ``CalibratedClassifierCV``
  (sigmoid by default, cv=5, ``ensemble=False``: calibrator fitted on out-of-fold predictions,
  one model refitted on the training part). With ``holdout=0.2`` a stratified 20 % is kept out *before*
  anything is fitted; the returned model is the one trained on the other 80 %, so the hold-out
  metrics in ``card_`` describe exactly the model you hold.

* :func:`churn_scores` — CRM churn, against each customer's own buying cycle.
  ``cutoff = as_of − horizon_days``. Features come from :func:`churn_features` with ``at=cutoff``
  (only rows dated before the cutoff) for training, and with ``at=as_of`` for scoring, so
  everyone is scored as of ``as_of`` with the same feature definitions. Customers with no order
  before ``as_of`` are not scored (they are counted in the card's notes).

  The label (``label="own_cycle"``, :func:`lapse_labels`): a customer with an order before the
  cutoff is churned (lapsed) when they buy nothing in ``[cutoff, as_of)`` *and* by ``as_of``
  their silence would happen less than ``lapse_level`` (5 %) of the time at their own pace. The
  pace is a Poisson rate with the gamma prior of a BG/NBD fit (tools.clv, fitted on the orders
  before the cutoff) updated by the customer's own repeat purchases: a weekly buyer silent for
  90 days has lapsed, a twice-a-year buyer has not, and a one-order customer (no pace of their
  own) needs a very long silence. The score is then the probability that by ``as_of +
  horizon_days`` the customer has bought nothing since ``as_of`` and is silent beyond their pace.
  The model sees only features measured against the customer's own clock
  (:data:`OWN_CYCLE_FEATURES`: silence odds, BG/NBD P(alive), silence ÷ usual interval, orders,
  slowing down, spend trend, complaints and ratings); customer attributes (level, province,
  gender, ...) join only when they add ≥ :data:`ATTRIBUTE_MIN_GAIN` cross-validated AUC. On the
  5,000-customer demo this ranks the planted lapsing customers at AUC ≈ 0.96 (benchmarks/
  bench_churn_truth.py) where the plain label gave 0.79. ``label="no_order"`` keeps the plain
  label (no order in the horizon, whatever the rhythm; :func:`churn_labels`) and all features.

  Each score row also carries ``annual_value`` (spend per year since the first order, at least
  one year counted) and ``value_at_risk`` = probability × annual value, the order
  :func:`at_risk_customers` uses with ``by="value_at_risk"``: the customers worth saving first.

Reasons (``model.reasons``) use occlusion for both model kinds (the CRM model occludes its
correlated behaviour features in groups, :data:`FEATURE_GROUPS`, so the reasons read "last order
190 days ago, 3.2× the usual 60-day interval"): the contribution of a feature
is P(churn | row) − the average of P(churn | row with that feature set to typical training
values) — the 10/30/50/70/90 % quantiles for numbers, the category frequencies (10 most
frequent) for categories — in probability points. Positive means the row's value raises the
risk compared with a typical value (so the most common category can still be a reason, e.g.
"Contract = Month-to-month raises risk (+0.12)"). Correlated features share credit unevenly,
as with any one-feature-at-a-time attribution.

On an engine (``engine=`` of :func:`churn_scores`, :func:`churn_features`, :func:`buying_rhythm`,
the label functions; knowledge.engine, DuckDB or Spark) the per-order and per-customer
aggregations behind the features and labels are SQL over the workspace's Parquet
(knowledge.churn_sql) and the order table is never loaded; the features are then computed by the
same expressions as the pandas path, which stays the reference (tests/knowledge/test_engine.py).

Risk bands: ``high`` when P ≥ 0.6, ``medium`` when P ≥ 0.3, else ``low`` (:data:`RISK_BANDS`).

Everything is deterministic for a fixed ``random_state`` (histogram gradient boosting is run
on one OpenMP thread for that reason).

Long on purpose: features, the time split with its leakage guards, model choice, calibration and
the reasons in words are one model, each step documented where it is done.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import ThreadpoolController, threadpool_limits

from knowledge import churn_sql
from knowledge.errors import GuanxiError
from tools import clv
from tools.results import fit_sample, fmt_date, provenance, resolve_as_of

__all__ = [
    "fit_tabular", "TabularChurnModel", "churn_features", "churn_labels", "lapse_labels", "buying_rhythm",
    "churn_scores", "ChurnResult", "at_risk_customers", "truth_metrics", "risk_band", "RISK_BANDS", "RISK_BAND_ZH",
    "FEATURE_LABELS", "FEATURE_GROUPS", "OWN_CYCLE_FEATURES", "ATTRIBUTE_FEATURES", "MIN_PER_CLASS", "LAPSE_LEVEL",
    "ATTRIBUTE_MIN_GAIN", "LABELS", "AT_RISK_ORDER",
]

# --------------------------------------------------------------------------- constants

#: Lower probability bounds of the risk bands, checked in order.
RISK_BANDS: tuple[tuple[str, float], ...] = (("high", 0.6), ("medium", 0.3), ("low", 0.0))
RISK_BAND_ZH = {"high": "高", "medium": "中", "low": "低"}
#: Each class needs at least this many rows (5-fold CV after a 20 % hold-out).
MIN_PER_CLASS = 10
MODEL_NAMES = ("logistic_regression", "hist_gradient_boosting")
MAX_CATEGORIES = 50  # rarer categories are pooled as "infrequent"
#: Own-cycle churn: a silence is a lapse when it would happen less often than this at the
#: customer's own buying pace (1 in 20, the usual significance level).
LAPSE_LEVEL = 0.05
#: Customer attributes (level, province, gender, ...) enter the CRM model only when they add at
#: least this much cross-validated ROC AUC to the behaviour-only model.
ATTRIBUTE_MIN_GAIN = 0.01
#: The CRM label definitions churn_scores knows: own_cycle (default) and the plain no_order one.
LABELS = ("own_cycle", "no_order")
_SILENCE_ODDS_CAP = 1e6
_BACKGROUND_ROWS = 30  # training rows a feature group is occluded with
_BGNBD_MIN_CUSTOMERS, _BGNBD_MIN_DISTINCT = 30, 10   # below these the BG/NBD prior is not fitted

_POSITIVE = {"yes", "y", "true", "t", "1", "1.0", "churn", "churned", "churner", "lost", "left", "exited",
             "exit", "attrited", "cancelled", "canceled", "inactive", "流失", "已流失", "是", "流失客户"}
_NEGATIVE = {"no", "n", "false", "f", "0", "0.0", "active", "retained", "stayed", "stay", "current",
             "existing", "not churned", "no churn", "non-churn", "non churn", "not_churned", "未流失", "否",
             "留存", "活跃", "正常", "在网", "未流失客户"}
_ID_NAME = re.compile(r"(^|_|\b)id$|编号$|号$|^id_", re.IGNORECASE)

#: (English label, Chinese label[, phrase when missing en, zh]) of the features of :func:`churn_features`.
FEATURE_LABELS: dict[str, tuple[str, ...]] = {
    "recency_days": ("days since last order", "距上次购买天数"),
    "frequency": ("orders", "订单数"),
    "monetary": ("total spend", "累计消费金额"),
    "avg_order_value": ("average order value", "客单价"),
    "tenure_days": ("days since first order", "首次购买至今天数"),
    "avg_interval_days": ("average days between orders", "平均购买间隔天数",
                          "only one order so far", "目前只有一笔订单"),
    "overdue_ratio": ("last order {recency_days:days} days ago, {v:.1f}× the usual {avg_interval_days:.0f}-day interval",
                      "距上次购买天数 {recency_days:days} 天，是平均间隔 {avg_interval_days:.0f} 天的 {v:.1f} 倍",
                      "only one order so far", "目前只有一笔订单"),
    "silence_odds": ("a silence this long happens 1 in {v:,.0f} times at their own buying pace",
                     "按其自身购买节奏，这么久不下单的概率约 1/{v:,.0f}"),
    "p_alive": ("chance still buying (BG/NBD P(alive))", "仍在购买的概率(BG/NBD P(alive))"),
    "last_gap_days": ("days between the last two orders", "最近两笔订单间隔天数",
                      "only one order so far", "目前只有一笔订单"),
    "gap_trend": ("last interval {last_gap_days:.0f} days, {v:.1f}× the earlier average",
                  "最近一次购买间隔 {last_gap_days:.0f} 天，是此前平均间隔的 {v:.1f} 倍",
                  "fewer than three orders", "订单少于三笔"),
    "amount_trend": ("spend per order in the last 3 orders {v:.1f}× the earlier average",
                     "最近3笔订单的客单价是此前平均的 {v:.1f} 倍",
                     "fewer than four orders", "订单少于四笔"),
    "orders_30d": ("orders in the last 30 days", "近30天订单数"),
    "orders_90d": ("orders in the last 90 days", "近90天订单数"),
    "orders_180d": ("orders in the last 180 days", "近180天订单数"),
    "orders_prev_90d": ("orders 91-180 days ago", "91-180天前订单数"),
    "trend_90d": ("orders last 90 days minus previous 90 days", "近90天较前90天订单变化"),
    "amount_90d": ("spend in the last 90 days", "近90天消费金额"),
    "n_categories": ("categories bought", "购买品类数"),
    "n_products": ("products bought", "购买商品数"),
    "festival_share": ("share of orders in sales festivals (618, Double 11, Double 12)", "大促(618/双11/双12)期间下单占比"),
    "order_channel": ("main order channel", "主要下单渠道"),
    "feedback_count": ("feedback items", "反馈数"),
    "complaints": ("complaints", "投诉数"),
    "complaints_90d": ("complaints in the last 90 days", "近90天投诉数"),
    "open_complaints": ("unresolved complaints", "未解决投诉数"),
    "rating_mean": ("average rating", "平均评分", "no rating given", "没有评分"),
    "low_ratings": ("ratings of 2 or less", "低分(≤2)评价数"),
    "level": ("membership level", "会员等级"),
    "channel": ("acquisition channel", "来源渠道"),
    "province": ("province", "省份"),
    "gender": ("gender", "性别"),
    "industry": ("industry", "行业"),
    "age_years": ("age", "年龄", "age unknown", "年龄未知"),
    "signup_days": ("days since sign-up", "注册天数", "sign-up date unknown", "注册日期未知"),
}
#: Features the CRM reasons explain together (occluded jointly; the first template whose values are
#: all present is the reason's words). Correlated on purpose: one behaviour, one reason.
FEATURE_GROUPS: dict[str, dict] = {
    "silence": {
        "features": ("recency_days", "overdue_ratio", "silence_odds", "p_alive", "orders_30d", "orders_90d",
                     "amount_90d"),
        "en": ("last order {recency_days:days} days ago, {overdue_ratio:.1f}× the usual {avg_interval_days:.0f}-day "
               "interval (a silence this long: 1 in {silence_odds:,.0f} at their own pace)",
               "last order {recency_days:days} days ago, {overdue_ratio:.1f}× the usual {avg_interval_days:.0f}-day "
               "interval", "last (and only) order {recency_days:days} days ago"),
        "zh": ("距上次购买天数 {recency_days:days} 天，是平均间隔 {avg_interval_days:.0f} 天的 {overdue_ratio:.1f} 倍"
               "(按其自身节奏，这么久不下单的概率约 1/{silence_odds:,.0f})",
               "距上次购买天数 {recency_days:days} 天，是平均间隔 {avg_interval_days:.0f} 天的 {overdue_ratio:.1f} 倍",
               "距上次购买天数 {recency_days:days} 天(仅有的一笔订单)"),
        "when": ({"silence_odds": 3.0},),   # "1 in 1" or "1 in 2" says nothing
    },
    "rhythm": {
        "features": ("frequency", "avg_interval_days", "tenure_days", "orders_180d"),
        "en": ("{frequency:.0f} orders in {tenure_days:.0f} days, usually one every {avg_interval_days:.0f} days",
               "only one order so far"),
        "zh": ("{tenure_days:.0f} 天内 {frequency:.0f} 笔订单，平均每 {avg_interval_days:.0f} 天一笔", "目前只有一笔订单"),
    },
    "slowing": {
        "features": ("orders_prev_90d", "trend_90d", "last_gap_days", "gap_trend"),
        "en": ("last interval {last_gap_days:.0f} days, {gap_trend:.1f}× the earlier average",
               "{orders_prev_90d:.0f} orders 91-180 days ago, {orders_90d:.0f} in the last 90 days"),
        "zh": ("最近一次购买间隔 {last_gap_days:.0f} 天，是此前平均间隔的 {gap_trend:.1f} 倍",
               "91-180天前 {orders_prev_90d:.0f} 笔订单，近90天 {orders_90d:.0f} 笔"),
    },
    "spend": {
        "features": ("monetary", "avg_order_value", "amount_trend"),
        "en": ("spend per order in the last 3 orders {amount_trend:.1f}× the earlier average "
               "(total spend {monetary:,.0f})", "total spend {monetary:,.0f}, {avg_order_value:,.0f} per order"),
        "zh": ("最近3笔订单的客单价是此前平均的 {amount_trend:.1f} 倍(累计消费 {monetary:,.0f})",
               "累计消费 {monetary:,.0f}，客单价 {avg_order_value:,.0f}"),
    },
    "complaints": {
        "features": ("complaints", "complaints_90d", "open_complaints", "low_ratings", "rating_mean", "feedback_count"),
        "en": ("complaints: {complaints:.0f} ({open_complaints:.0f} unresolved, {complaints_90d:.0f} in the last 90 "
               "days), average rating {rating_mean:.1f}",
               "complaints: {complaints:.0f} ({open_complaints:.0f} unresolved, {complaints_90d:.0f} in the last 90 days)"),
        "zh": ("投诉 {complaints:.0f} 次(未解决 {open_complaints:.0f} 次，近90天 {complaints_90d:.0f} 次)，平均评分 {rating_mean:.1f}",
               "投诉 {complaints:.0f} 次(未解决 {open_complaints:.0f} 次，近90天 {complaints_90d:.0f} 次)"),
    },
}
_CUSTOMER_CATEGORICAL = ("level", "channel", "province", "gender", "industry")
#: Features taken from the customers table (current values, not behaviour).
ATTRIBUTE_FEATURES = _CUSTOMER_CATEGORICAL + ("age_years", "signup_days")
#: What the own-cycle model sees: each customer's silence measured against their own pace, the
#: change in that pace and in spend, how many orders the pace rests on, and complaints. Features on
#: the calendar's clock (days since the last order, orders in the last 30/90/180 days, tenure, the
#: interval in days) are left out on purpose: with them the model relearns "90 quiet days = gone"
#: for everyone (on the demo they raise the fit to the label but lower the AUC against the planted
#: lapsing customers from ≈0.96 to ≈0.94). They stay in the features table and in the reasons' words.
OWN_CYCLE_FEATURES = ("silence_odds", "p_alive", "overdue_ratio", "frequency", "gap_trend", "amount_trend",
                      "complaints", "complaints_90d", "open_complaints", "low_ratings", "rating_mean")
# (month, first day, last day) of the sales-festival windows counted by `festival_share`.
_FESTIVALS = ((6, 1, 18), (11, 1, 11), (12, 10, 12))


def risk_band(p: float) -> str | None:
    """'high' (≥ 0.6), 'medium' (≥ 0.3) or 'low'; NaN → None."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return None
    for name, lower in RISK_BANDS:
        if p >= lower:
            return name
    return "low"


# --------------------------------------------------------------------------- column handling

def _signed_log1p(a):
    a = np.asarray(a, dtype=float)
    return np.sign(a) * np.log1p(np.abs(a))


def _blank_to_nan(s: pd.Series) -> pd.Series:
    """Text stripped; blank / whitespace-only → NaN; object dtype (non-text values kept as they are)."""
    if isinstance(s.dtype, pd.StringDtype):  # pandas' str dtype: vectorised
        t = s.str.strip()
        t = t.mask(t == "")
        return t.astype(object).where(t.notna(), np.nan)
    out = s.astype(object)
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return out.where(out.notna(), np.nan)
    mask = out.notna()
    if mask.any():
        txt = out[mask].map(lambda v: v.strip() if isinstance(v, str) else v)
        txt = txt.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
        out = out.copy()
        out[mask] = txt
    return out.where(out.notna(), np.nan)


_POOLS: list = []   # one ThreadpoolController, made at the first prediction (the libraries are loaded by then)


def _one_thread():
    """``threadpool_limits(limits=1)`` through one controller: finding the loaded BLAS / OpenMP libraries
    takes ~8 ms, at every call of threadpool_limits (one customer's reasons are predicted in ~10 ms)."""
    if not _POOLS:
        _POOLS.append(ThreadpoolController())
    return _POOLS[0].limit(limits=1)


def _as_numeric(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").astype(float)
    return pd.to_numeric(_blank_to_nan(s), errors="coerce").astype(float)


def _as_category(s: pd.Series) -> pd.Series:
    """Categories as stripped text (object dtype, NaN for missing/blank); numbers become their text."""
    out = _blank_to_nan(s)
    if isinstance(s.dtype, pd.StringDtype):
        return out
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return out.astype(str).where(out.notna(), np.nan).astype(object)
    return out.map(lambda v: v if isinstance(v, str) else (np.nan if pd.isna(v) else str(v))).astype(object)


@dataclass
class _Schema:
    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str]
    converted: list[str]

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical


def _infer_schema(X: pd.DataFrame, exclude=()) -> _Schema:
    numeric, categorical, converted, dropped = [], [], [], {}
    n = len(X)
    for col in X.columns:
        s = X[col]
        name = str(col)
        if col in exclude:
            dropped[name] = "excluded by the caller"
            continue
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            dropped[name] = "date/time column (derive numeric features from it first)"
            continue
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            values = _as_numeric(s)
            kind = "numeric"
        else:
            text = _blank_to_nan(s)
            nonmissing = text.dropna()
            as_num = pd.to_numeric(nonmissing, errors="coerce")
            if len(nonmissing) and as_num.notna().all():
                values, kind = pd.to_numeric(text, errors="coerce").astype(float), "numeric"
                converted.append(name)
            else:
                values, kind = _as_category(s), "categorical"
        nonmissing = values.dropna()
        if nonmissing.empty:
            dropped[name] = "all values missing"
            continue
        nunique = nonmissing.nunique()
        if nunique <= 1:
            dropped[name] = f"constant (only {nonmissing.iloc[0]!r})"
            continue
        if kind == "categorical" and n >= 2 and nunique == len(nonmissing) and len(nonmissing) >= 0.9 * n:
            dropped[name] = "id-like (every value is different)"
            continue
        if (kind == "numeric" and _ID_NAME.search(name) and nunique == len(nonmissing) and n >= 2
                and np.allclose(nonmissing, np.round(nonmissing))):
            dropped[name] = "id-like (named like an id, every value is different)"
            if name in converted:
                converted.remove(name)
            continue
        (numeric if kind == "numeric" else categorical).append(name)
    return _Schema(numeric, categorical, dropped, converted)


def _encode_target(s: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray, list, list]:
    """(y as 0/1 float with NaN for unlabelled rows, labelled mask, positive values, negative values)."""
    if pd.api.types.is_bool_dtype(s):
        v = s.astype(float).to_numpy()
        labelled = ~np.isnan(v)
        return v, labelled, [True], [False]
    raw = _blank_to_nan(s)
    labelled = raw.notna().to_numpy()
    distinct = sorted({str(v) for v in raw.dropna()}, key=str)
    mapping: dict[str, float] = {}
    unknown = []
    for v in distinct:
        key = v.strip().lower()
        try:  # numeric labels 1 / 0 (also 1.0, "1")
            num = float(key)
            if num in (0.0, 1.0):
                mapping[v] = num
                continue
        except ValueError:
            pass
        if key in _NEGATIVE:
            mapping[v] = 0.0
        elif key in _POSITIVE or key.startswith("churn"):
            mapping[v] = 1.0
        elif "流失" in key and not key.startswith(("未", "不", "非", "没", "无")):
            mapping[v] = 1.0
        else:
            unknown.append(v)
    if unknown:
        shown = ", ".join(repr(v) for v in distinct[:10]) + (" …" if len(distinct) > 10 else "")
        raise GuanxiError(
            f"target column {name!r} has values {shown}; cannot tell which means churned — expected two "
            f"classes such as Yes/No, 1/0, True/False or churned/active (流失/未流失)")
    y = raw.map(lambda v: mapping.get(str(v), np.nan) if pd.notna(v) else np.nan).astype(float).to_numpy()
    pos = [v for v in distinct if mapping[v] == 1.0]
    neg = [v for v in distinct if mapping[v] == 0.0]
    return y, labelled, pos, neg


def _missing(v) -> bool:
    """None, NaN or NaT (``pd.isna`` of one value; text is never missing), a float or an int without pandas."""
    if v is None:
        return True
    t = type(v)
    if t is float:
        return v != v
    if t is int:
        return False
    return not isinstance(v, str) and bool(pd.isna(v))


def _fmt_value(v) -> tuple[str, str]:
    """A feature value for the reason texts (en, zh)."""
    if _missing(v):
        return "missing", "缺失"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            txt = str(int(f))
        elif abs(f) >= 100:
            txt = f"{f:.0f}"
        else:
            txt = f"{f:.2f}".rstrip("0").rstrip(".")
        return txt, txt
    if isinstance(v, (int, np.integer)):
        return str(int(v)), str(int(v))
    txt = str(v).replace(";", ",").replace("；", "，")
    return txt, txt


_PLACEHOLDER = re.compile(r"\{(\w+)(?::([^{}]*))?\}")


@functools.lru_cache(maxsize=1024)
def _template_parts(template: str) -> tuple:
    """``template`` split at its placeholders: literal, name, spec, literal, ..., literal (spec None
    when absent), parsed once (the reasons fill the same few templates for every customer)."""
    return tuple(_PLACEHOLDER.split(template))


@functools.lru_cache(maxsize=1024)
def _template_names(template: str) -> frozenset:
    """The placeholder names of ``template``."""
    return frozenset(_template_parts(template)[1::3])


def _fill(template: str, value, row: dict, lang: int) -> str:
    """A label template: ``{v}`` → the value, ``{feature}`` → that feature's value in ``row``;
    an optional format spec (``{v:.1f}``, ``{monetary:,.0f}``; ``{recency_days:days}`` = whole calendar
    days, rounded up) applies to numbers."""
    parts = _template_parts(template)
    out = [parts[0]]
    for k in range(1, len(parts), 3):
        name, spec = parts[k], parts[k + 1]
        if name != "v" and name not in row:
            out.append("{" + name + ("" if spec is None else ":" + spec) + "}")
        else:
            val = value if name == "v" else row[name]
            if spec and isinstance(val, (int, float, np.integer, np.floating)) and not _missing(val):
                if spec == "days":   # whole calendar days, as RFM counts them (a purchase last night: 1 day ago)
                    out.append(str(int(math.ceil(float(val) - 1e-9))))
                else:
                    out.append(format(float(val), spec))
            else:
                out.append(_fmt_value(val)[lang])
        out.append(parts[k + 2])
    return "".join(out)


# --------------------------------------------------------------------------- the model

def _lr_pipeline(numeric: list[str], categorical: list[str], random_state: int) -> Pipeline:
    parts = []
    if numeric:
        num = Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("expand", FeatureUnion([
                ("scaled", StandardScaler()),
                ("log_scaled", Pipeline([("log", FunctionTransformer(_signed_log1p, feature_names_out="one-to-one")),
                                         ("scale", StandardScaler())])),
            ])),
        ])
        parts += [("num", num, numeric), ("missing", MissingIndicator(error_on_new=False), numeric)]
    if categorical:
        cat = Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", max_categories=MAX_CATEGORIES))])
        parts.append(("cat", cat, categorical))
    pre = ColumnTransformer(parts, sparse_threshold=0.0)
    return Pipeline([("prep", pre), ("model", LogisticRegression(C=1.0, max_iter=5000, random_state=random_state))])


def _hgb_pipeline(numeric: list[str], categorical: list[str], random_state: int) -> Pipeline:
    parts = []
    if numeric:
        parts.append(("num", "passthrough", numeric))
    if categorical:
        parts.append(("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                            encoded_missing_value=np.nan, max_categories=MAX_CATEGORIES),
                      categorical))
    pre = ColumnTransformer(parts, sparse_threshold=0.0)
    mask = [False] * len(numeric) + [True] * len(categorical)
    hgb = HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=100, max_leaf_nodes=8, min_samples_leaf=30, l2_regularization=1.0,
        early_stopping=False, categorical_features=mask if categorical else None, random_state=random_state)
    return Pipeline([("prep", pre), ("model", hgb)])


def _lift_top_decile(y: np.ndarray, p: np.ndarray) -> float:
    k = max(1, int(math.ceil(0.1 * len(y))))
    order = np.argsort(-p, kind="mergesort")
    base = float(np.mean(y))
    return float(np.mean(y[order[:k]]) / base) if base > 0 else float("nan")


def _calibration(y: np.ndarray, p: np.ndarray, bins: int = 5) -> tuple[list[dict], float]:
    """Reliability on ``bins`` equal-count bins of the predictions: [{p_mean, observed, n}], and the
    expected calibration error (mean |p_mean − observed| weighted by n)."""
    order = np.argsort(p, kind="mergesort")
    rows = []
    for part in np.array_split(order, min(bins, len(order))):
        if len(part):
            rows.append({"p_mean": float(np.mean(p[part])), "observed": float(np.mean(y[part])), "n": int(len(part))})
    ece = sum(r["n"] * abs(r["p_mean"] - r["observed"]) for r in rows) / max(len(y), 1)
    return rows, float(ece)


def _metrics(y: np.ndarray, p: np.ndarray) -> dict:
    bins, ece = _calibration(np.asarray(y, dtype=float), np.asarray(p, dtype=float))
    return {"roc_auc": float(roc_auc_score(y, p)), "pr_auc": float(average_precision_score(y, p)),
            "brier": float(brier_score_loss(y, p)), "lift_top_decile": _lift_top_decile(y, p),
            "n": int(len(y)), "positive_rate": float(np.mean(y)), "calibration_error": ece,
            "calibration": bins}


class TabularChurnModel:
    """Calibrated churn classifier for a labelled table (scikit-learn style: ``fit`` returns self).

    Parameters: ``holdout`` (fraction kept out for the card's metrics, None/0 = none),
    ``random_state``, ``cv`` (folds for model choice and calibration), ``calibration``
    ('sigmoid' or 'isotonic'), ``exclude`` (columns never used), ``labels`` ({column: (en, zh)}
    or (en, zh, missing_en, missing_zh) for the reason texts; default: the raw column name),
    ``groups`` ({name: {"features": (...), "en": (template, ...), "zh": (template, ...)}}:
    features explained together — occluded jointly, one reason in words: the first template whose
    placeholders all have values and whose optional ``"when"`` minimums ({feature: min}) hold;
    see :meth:`contributions`).

    Learned attributes: ``estimator_`` (the calibrated pipeline), ``chosen_model_``,
    ``cv_auc_``, ``numeric_features_``, ``categorical_features_``, ``features_``,
    ``dropped_features_``, ``reference_`` (median / most frequent value per feature),
    ``target_``, ``positive_values_``, ``card_`` (dict; see :meth:`fit`).
    """

    def __init__(self, holdout: float | None = None, random_state: int = 0, cv: int = 5,
                 calibration: str = "sigmoid", exclude=(), labels: dict | None = None, groups: dict | None = None):
        self.holdout = holdout
        self.random_state = random_state
        self.cv = cv
        self.calibration = calibration
        self.exclude = exclude
        self.labels = labels
        self.groups = groups

    # ---- fitting
    def fit(self, df: pd.DataFrame, target: str) -> "TabularChurnModel":
        """Choose, fit and calibrate the model on ``df`` (labels in column ``target``).

        ``card_`` holds: model / chosen_model, cv_auc (both candidates), calibration, target,
        positive_values, n_rows, n_train, n_holdout, positive_rate, features_used,
        numeric_features, categorical_features, features_dropped ({column: reason}),
        converted_to_numeric, unlabelled_rows_dropped, holdout (metrics dict or None) and the
        hold-out metrics flat (roc_auc, pr_auc, brier, lift_top_decile; None without hold-out).
        """
        if not isinstance(df, pd.DataFrame):
            raise GuanxiError(f"fit_tabular needs a DataFrame, got {type(df).__name__}")
        if target not in df.columns:
            raise GuanxiError(f"target column {target!r} not found; columns are {[str(c) for c in df.columns]}")
        if self.calibration not in ("sigmoid", "isotonic"):
            raise GuanxiError(f"calibration must be 'sigmoid' or 'isotonic', got {self.calibration!r}")
        holdout = float(self.holdout or 0.0)
        if not 0.0 <= holdout <= 0.5:
            raise GuanxiError(f"holdout must be a fraction between 0 and 0.5, got {self.holdout!r}")
        if int(self.cv) < 2:
            raise GuanxiError(f"cv must be at least 2 folds, got {self.cv!r}")

        y_all, labelled, pos, neg = _encode_target(df[target], target)
        X_raw = df.loc[labelled].drop(columns=[target])
        y = y_all[labelled].astype(int)
        n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
        if n_pos == 0 or n_neg == 0:
            only = pos if n_pos else neg
            raise GuanxiError(f"target column {target!r} needs both classes; found only {only} "
                              f"({len(y)} labelled rows)")
        if min(n_pos, n_neg) < MIN_PER_CLASS:
            raise GuanxiError(f"target column {target!r} needs at least {MIN_PER_CLASS} rows of each class; "
                              f"found {n_pos} positive ({', '.join(map(str, pos))}) and {n_neg} negative "
                              f"({', '.join(map(str, neg))})")
        schema = _infer_schema(X_raw, exclude=tuple(self.exclude or ()))
        if not schema.features:
            raise GuanxiError(f"no usable feature columns besides {target!r}; dropped: {schema.dropped}")
        self.numeric_features_ = schema.numeric
        self.categorical_features_ = schema.categorical
        self.features_ = schema.features
        self.dropped_features_ = schema.dropped
        self.target_ = target
        self.positive_values_ = pos
        X = self._prepare(X_raw)

        rs = self.random_state
        if holdout > 0:
            idx_tr, idx_ho = train_test_split(np.arange(len(y)), test_size=holdout, stratify=y, random_state=rs)
        else:
            idx_tr, idx_ho = np.arange(len(y)), np.array([], dtype=int)
        X_tr, y_tr = X.iloc[idx_tr], y[idx_tr]
        folds = StratifiedKFold(n_splits=int(self.cv), shuffle=True, random_state=rs)
        candidates = {"logistic_regression": _lr_pipeline(schema.numeric, schema.categorical, rs),
                      "hist_gradient_boosting": _hgb_pipeline(schema.numeric, schema.categorical, rs)}
        with threadpool_limits(limits=1):
            self.cv_auc_ = {name: float(np.mean(cross_val_score(est, X_tr, y_tr, cv=folds, scoring="roc_auc")))
                            for name, est in candidates.items()}
            best = max(self.cv_auc_.values())
            self.chosen_model_ = next(n for n in MODEL_NAMES if self.cv_auc_[n] == best)
            # ensemble=False: the calibrator is fitted on out-of-fold predictions and applied to one
            # model refitted on the whole training part (5× cheaper to predict, which the reasons need)
            self.estimator_ = CalibratedClassifierCV(clone(candidates[self.chosen_model_]), method=self.calibration,
                                                     cv=folds, ensemble=False).fit(X_tr, y_tr)
        self.reference_, self.reference_values_ = {}, {}
        for c in schema.numeric:
            col = X_tr[c].dropna().to_numpy(dtype=float)
            if len(col) == 0:  # missing throughout the training part
                self.reference_[c], self.reference_values_[c] = np.nan, ([np.nan], np.ones(1))
                continue
            self.reference_[c] = float(np.median(col))
            qs = pd.Series(np.quantile(col, [0.1, 0.3, 0.5, 0.7, 0.9])).value_counts(sort=False) / 5
            self.reference_values_[c] = (list(map(float, qs.index)), qs.to_numpy(dtype=float))
        for c in schema.categorical:
            counts = X_tr[c].value_counts()
            if counts.empty:
                self.reference_[c], self.reference_values_[c] = np.nan, ([np.nan], np.ones(1))
                continue
            counts = counts.iloc[np.lexsort((counts.index.astype(str), -counts.to_numpy()))]
            self.reference_[c] = counts.index[0]
            top = counts.head(10)
            self.reference_values_[c] = (list(top.index), top.to_numpy(dtype=float) / top.sum())

        # background rows for the joint occlusion of feature groups (a fixed sample of the training part)
        pick = np.sort(np.random.default_rng(rs).choice(len(X_tr), size=min(_BACKGROUND_ROWS, len(X_tr)),
                                                        replace=False))
        self.background_ = X_tr.iloc[pick].reset_index(drop=True)

        ho = None
        if len(idx_ho):
            ho = _metrics(y[idx_ho], self._proba(X.iloc[idx_ho]))
        self.card_ = {
            "model": self.chosen_model_, "chosen_model": self.chosen_model_, "cv_auc": dict(self.cv_auc_),
            "cv_folds": int(self.cv), "calibration": self.calibration, "target": target,
            "positive_values": pos, "negative_values": neg, "n_rows": int(len(y)), "n_train": int(len(idx_tr)),
            "n_holdout": int(len(idx_ho)), "positive_rate": float(np.mean(y)),
            "features_used": list(schema.features), "numeric_features": list(schema.numeric),
            "categorical_features": list(schema.categorical), "features_dropped": dict(schema.dropped),
            "converted_to_numeric": list(schema.converted),
            "unlabelled_rows_dropped": int((~labelled).sum()), "random_state": rs,
            "holdout": ho,
            **{k: (ho[k] if ho else None) for k in ("roc_auc", "pr_auc", "brier", "lift_top_decile")},
            "trained_on": "the training part only (hold-out kept out)" if ho else "all labelled rows",
        }
        self.card_["provenance"] = provenance(
            "fit_tabular", {"table": int(len(df))}, target=target, model=self.chosen_model_,
            holdout=holdout or None, random_state=rs, features=len(schema.features),
            dropped=list(schema.dropped) or None)
        return self

    # ---- prediction
    def _check_fitted(self) -> None:
        if not hasattr(self, "estimator_"):
            raise GuanxiError("the churn model is not fitted yet; call fit_tabular(df, target) first")

    def _prepare(self, df: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(df, pd.DataFrame):
            raise GuanxiError(f"expected a DataFrame, got {type(df).__name__}")
        missing = [c for c in self.features_ if c not in df.columns]
        if missing:
            raise GuanxiError(f"the table lacks column(s) {missing} that the churn model was trained on")
        out = pd.DataFrame(index=df.index)
        for c in self.numeric_features_:
            out[c] = _as_numeric(df[c])
        for c in self.categorical_features_:
            out[c] = _as_category(df[c])
        return out

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        with _one_thread():
            return self.estimator_.predict_proba(X)[:, 1]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(churn) per row, a 1-d array. ``df`` may contain or lack the target column."""
        self._check_fitted()
        return self._proba(self._prepare(df))

    def predict(self, df: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """1 where P(churn) ≥ ``threshold``, else 0."""
        return (self.predict_proba(df) >= threshold).astype(int)

    # ---- explanations
    def _units(self) -> list[tuple[str, list[str]]]:
        """What is explained: each group (its features the model uses), then each ungrouped feature."""
        units, grouped = [], set()
        for name, spec in (self.groups or {}).items():
            feats = [c for c in spec.get("features", ()) if c in self.features_ and c not in grouped]
            if feats:
                units.append((name, feats))
                grouped.update(feats)
        return units + [(c, [c]) for c in self.features_ if c not in grouped]

    def contributions(self, df: pd.DataFrame, max_batch: int = 200_000) -> pd.DataFrame:
        """Occlusion contributions (rows × explained units, probability points).

        For an ungrouped feature f: P(row) − Σ_v w_v · P(row with f := v), the values v / weights
        w_v being the training distribution of f (``reference_values_``: 5 quantiles for numbers,
        the 10 most frequent categories by frequency). For a group (``groups``): P(row) − the mean
        of P(row with all the group's features taken from background row b) over a fixed sample of
        training rows (``background_``), so correlated features (days since the last order, the
        same ÷ the usual interval, P(alive), ...) are credited together instead of each looking
        harmless while the others still say the same. Positive = the row's values raise the risk
        relative to typical ones. All occluded copies of a chunk of rows are scored in one call.
        Columns: group names, then the ungrouped features.
        """
        self._check_fitted()
        X = self._prepare(df).reset_index(drop=True)
        units = self._units()
        plan = self._plan(units)
        scored, copy_of = self._distinct_copies(plan)
        n_copies = 1 + len(scored)
        chunk_rows = max(1, max_batch // n_copies)
        out = np.zeros((len(X), len(units)))
        for start in range(0, len(X), chunk_rows):
            part = X.iloc[start:start + chunk_rows]
            m = len(part)
            p = self._proba(self.occluded(part, scored)).reshape(n_copies, m)
            expected = np.zeros((m, len(units)))
            for k, (u, _, w) in enumerate(plan):
                expected[:, u] += w * p[copy_of[k] + 1]
            out[start:start + m] = p[0][:, None] - expected
        return pd.DataFrame(out, index=df.index, columns=[name for name, _ in units])

    def _plan(self, units: list[tuple[str, list[str]]]) -> list[tuple[int, dict, float]]:
        """The occluded copies `contributions` scores: (unit index, {column: value}, weight) each."""
        background = getattr(self, "background_", None)
        plan = []
        for u, (name, feats) in enumerate(units):
            if len(feats) == 1 and name == feats[0]:
                plan += [(u, {name: v}, w) for v, w in zip(*self.reference_values_[name])]
            else:   # each background row's values of the group (a column read at once, not a cell at a time)
                rows = zip(*(background[c].tolist() for c in feats))
                plan += [(u, dict(zip(feats, row)), 1.0 / len(background)) for row in rows]
        return plan

    def _distinct_copies(self, plan: list) -> tuple[list, list[int]]:
        """The plan's copies to score, and for each plan entry the one scored for it. Gradient boosting
        scores each row on its own, so copies putting in the same values (a group's background rows
        often share one value: NaN, 1 order) are scored once — half the copies on the demo, the same
        numbers; other models score every copy."""
        if getattr(self, "chosen_model_", None) != "hist_gradient_boosting":
            return plan, list(range(len(plan)))

        def key(assign: dict) -> tuple:   # exact: NaN as NaN, None apart from NaN, -0.0 apart from 0.0
            return tuple((c, "none" if v is None else (float(v).hex() if isinstance(v, (float, np.floating))
                                                        else (type(v).__name__, v))) for c, v in assign.items())
        first: dict[tuple, int] = {}
        scored, copy_of = [], []
        for entry in plan:
            k = first.setdefault(key(entry[1]), len(scored))
            if k == len(scored):
                scored.append(entry)
            copy_of.append(k)
        return scored, copy_of

    def occluded(self, part: pd.DataFrame, plan: list) -> pd.DataFrame:
        """``part``, then one copy of it per entry (unit, {column: value}, weight) of ``plan`` with those
        values put in (a number column as float, another as object), stacked with a new index: as
        ``pd.concat`` of the copies, built a column at a time (one row explained: 180 copies in 2 ms, not 150)."""
        m, n = len(part), 1 + len(plan)
        put: dict[str, list] = {}
        for k, (_, assign, _) in enumerate(plan, 1):
            for c, v in assign.items():
                put.setdefault(c, []).append((k, v))
        cols = {}
        for c in part.columns:
            if c not in put:   # never occluded: the column as it is, repeated
                cols[c] = part[c].iloc[np.tile(np.arange(m), n)].reset_index(drop=True)
                continue
            number = c in self.numeric_features_
            values = np.tile(part[c].to_numpy(dtype=float if number else object), n)
            for k, v in put[c]:
                values[k * m:(k + 1) * m] = (np.nan if v is None else float(v)) if number else v
            cols[c] = pd.Series(values, dtype=float if number else object)   # object stays object (not str)
        return pd.DataFrame(cols)

    def _group_phrases(self, name: str, row: dict) -> tuple[str, str]:
        """The first of the group's templates (en, zh pairs) whose placeholders all have values."""
        spec = (self.groups or {}).get(name, {})
        when = tuple(spec.get("when", ()))
        for k, (en, zh) in enumerate(zip(spec.get("en", ()), spec.get("zh", ()))):
            if not all(f in row and not _missing(row[f]) for f in _template_names(en + zh)):
                continue
            if k < len(when) and when[k] and not all(float(row[f]) >= lo for f, lo in when[k].items()):
                continue
            return _fill(en, None, row, 0), _fill(zh, None, row, 1)
        return name, name

    def _quoted_columns(self) -> list[str]:
        """The columns the reason templates (``groups``, ``labels``) quote or test (``when``)."""
        texts = [t for spec in (self.groups or {}).values() for t in (*spec.get("en", ()), *spec.get("zh", ()))]
        texts += [str(t) for spec in (self.labels or {}).values() for t in spec[:2]]
        names = {n for t in texts for n in _template_names(t)}
        names |= {f for spec in (self.groups or {}).values() for w in spec.get("when", ()) if w for f in w}
        return sorted(names - {"v"})

    def _phrases(self, feature: str, value, row: dict | None = None) -> tuple[str, str]:
        """("label = value" en, zh); a missing value with a phrase in ``labels`` uses the phrase.

        A label from ``labels`` holding ``{v}`` is a template instead: ``{v}`` is the value and
        ``{other_feature}`` that feature's value in the same row (``row``), e.g. "last order
        {recency_days} days ago, {v}× the usual {avg_interval_days}-day interval".
        """
        given = (self.labels or {}).get(feature)
        spec = tuple(given if given is not None else (feature, feature))
        missing = _missing(value)
        if missing and len(spec) >= 4:
            return spec[2], spec[3]
        v_en, v_zh = _fmt_value(value)
        if given is not None and "{v" in spec[0]:
            return _fill(spec[0], value, row or {}, 0), _fill(spec[1], value, row or {}, 1)
        return f"{spec[0]} = {v_en}", f"{spec[1]} = {v_zh}"

    def reasons(self, df: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Top ``top`` reasons per row by absolute contribution (those under 0.005 are skipped).

        Long table: row (the input's index label), rank, feature, value, contribution,
        text_en ("Contract = Month-to-month raises risk (+0.12)"), text_zh
        ("Contract = Month-to-month，风险上升 +0.12"). Features whose phrase is the same (e.g. two
        features missing for one reason, "only one order so far") are merged, contributions summed.
        A group (``groups``) is one reason: feature = the group's name, value = its first feature's.
        """
        if int(top) < 1:
            raise GuanxiError(f"top must be ≥ 1, got {top!r}")
        contrib = self.contributions(df)
        X = self._prepare(df)
        rows = []
        cvals = contrib.to_numpy()
        xvals = X[self.features_].to_numpy(dtype=object)
        units = self._units()
        col_of = {c: j for j, c in enumerate(self.features_)}
        templated = bool(self.groups) or any("{v" in str(spec[0]) for spec in (self.labels or {}).values())
        # the words quote columns by name: each row's values of those (a feature's as the model reads it)
        quoted = self._quoted_columns() if templated else ()
        quoted_cols = [(c, xvals[:, col_of[c]].tolist() if c in col_of else df[c].tolist())
                       for c in quoted if c in col_of or c in df.columns]
        for i, label in enumerate(df.index):
            merged: dict[str, list] = {}
            row = {c: vals[i] for c, vals in quoted_cols} if templated else None
            for j, (name, feats) in enumerate(units):
                value = xvals[i, col_of[feats[0]]]
                if len(feats) == 1 and name == feats[0]:
                    en, zh = self._phrases(name, value, row)
                else:
                    en, zh = self._group_phrases(name, row)
                if en in merged:
                    merged[en][3] += cvals[i, j]
                else:
                    merged[en] = [name, value, zh, cvals[i, j], j]
            items = sorted(merged.items(), key=lambda kv: (-round(abs(kv[1][3]), 12), kv[1][4]))
            rank = 0
            for en, (feat, value, zh, c, _) in items:
                if rank >= top or abs(c) < 0.005:  # would show as ±0.00
                    break
                rank += 1
                sign = f"{c:+.2f}"
                if c > 0:
                    text_en, text_zh = f"{en} raises risk ({sign})", f"{zh}，风险上升 {sign}"
                else:
                    text_en, text_zh = f"{en} lowers risk ({sign})", f"{zh}，风险下降 {sign}"
                rows.append({"row": label, "rank": rank, "feature": feat, "value": value,
                             "contribution": float(c), "text_en": text_en, "text_zh": text_zh})
        return pd.DataFrame(rows, columns=["row", "rank", "feature", "value", "contribution", "text_en", "text_zh"])


def fit_tabular(df: pd.DataFrame, target: str, holdout: float | None = None, random_state: int = 0, *,
                cv: int = 5, calibration: str = "sigmoid", exclude=(), labels: dict | None = None
                ) -> TabularChurnModel:
    """Fit a calibrated churn model on any labelled customer table. See :class:`TabularChurnModel`.

    >>> model = fit_tabular(telco, "Churn", holdout=0.2, random_state=1)   # doctest: +SKIP
    >>> model.card_["holdout"]["roc_auc"], model.predict_proba(telco).shape  # doctest: +SKIP
    (0.84..., (7043,))
    """
    return TabularChurnModel(holdout=holdout, random_state=random_state, cv=cv, calibration=calibration,
                             exclude=exclude, labels=labels).fit(df, target)


# --------------------------------------------------------------------------- CRM features

def _require(df: pd.DataFrame | None, name: str, cols: tuple[str, ...]) -> None:
    if df is None:
        return
    if not isinstance(df, pd.DataFrame):
        raise GuanxiError(f"{name} must be a DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise GuanxiError(f"{name} table lacks column(s) {missing} (needed for churn); has {list(df.columns)}")


def _dates(s: pd.Series, what: str) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        out = pd.to_datetime(s.astype(object).where(s.notna(), None), errors="coerce", format="mixed")
    if out.isna().all() and s.notna().any():
        raise GuanxiError(f"{what} holds no readable dates (e.g. {s.dropna().iloc[0]!r}); expected dates")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_localize(None)
    return out


def _order_level(orders: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """One row per order (customer_id, order_key, date, amount, lines...) dated before ``at``."""
    _require(orders, "orders", ("customer_id", "order_date"))
    orders = orders.reset_index(drop=True)
    o = pd.DataFrame({"customer_id": orders["customer_id"].astype(str),
                      "date": _dates(orders["order_date"], "orders.order_date")})
    o["amount"] = pd.to_numeric(orders["amount"], errors="coerce") if "amount" in orders else np.nan
    o["order_key"] = (orders["order_id"].astype(str) if "order_id" in orders
                      else o["customer_id"] + "-" + o["date"].dt.strftime("%Y%m%d"))
    for c in ("category", "product_id", "product_name", "channel"):
        if c in orders:
            o[c] = _as_category(orders[c])
    keep = orders["customer_id"].notna().to_numpy() & o["date"].notna().to_numpy() & (o["date"] < at).to_numpy()
    return o.loc[keep]


def _rhythm_from_orders(per_order: pd.DataFrame, at: pd.Timestamp, max_fit: int | None = None) -> pd.DataFrame:
    """Purchase days (orders on one day merged) per customer, the BG/NBD fit on them and the
    own-pace numbers; see :func:`buying_rhythm`."""
    day = per_order["date"].dt.normalize()
    g = pd.DataFrame({"customer_id": per_order["customer_id"].to_numpy(), "day": day.to_numpy()}
                     ).drop_duplicates().groupby("customer_id", sort=True)["day"]
    return _rhythm_from_days(g.min(), g.max(), g.size(), at, max_fit)


def _rhythm_from_days(first: pd.Series, last: pd.Series, n: pd.Series, at: pd.Timestamp,
                      max_fit: int | None = None) -> pd.DataFrame:
    """The rhythm of :func:`buying_rhythm` from each customer's first and last purchase day and
    number of purchase days (Series indexed by customer_id, sorted); the BG/NBD prior fitted on at
    most ``max_fit`` customers (a seeded sample past it)."""
    cal_end = (at - pd.Timedelta(1, "ns")).normalize()      # the last day wholly or partly before `at`
    week = pd.Timedelta(days=7)
    out = pd.DataFrame({"purchase_days": n.astype(float), "frequency": (n - 1).astype(float),
                        "recency": (last - first) / week, "T": (cal_end - first) / week})
    out.index.name = "customer_id"
    out["silence_weeks"] = out["T"] - out["recency"]
    prior: dict
    repeat = out.loc[out["frequency"] > 0, ["frequency", "recency", "T"]]
    try:
        distinct = len(repeat.drop_duplicates())
        if len(out) < _BGNBD_MIN_CUSTOMERS or distinct < _BGNBD_MIN_DISTINCT:
            # the fit would fail (slowly) or be meaningless: fall back straight away
            raise GuanxiError(f"{len(out)} customers, {distinct} distinct repeat-buyer histories: too few to fit "
                              f"(needs {_BGNBD_MIN_CUSTOMERS} and {_BGNBD_MIN_DISTINCT})")
        with np.errstate(all="ignore"):
            bg = clv.fit_bgnbd(out[["frequency", "recency", "T"]], max_fit)
        prior = {**{k: bg[k] for k in ("r", "alpha", "a", "b")}, "source": "BG/NBD fit"}
        out["p_alive"] = np.asarray(clv.p_alive(bg, out["frequency"], out["recency"], out["T"]), dtype=float)
    except GuanxiError as e:  # no BG/NBD: the NBD part alone (no dropout), else a plain gamma prior
        out["p_alive"] = np.nan
        nbd = _fit_nbd(out["frequency"].to_numpy(), out["T"].to_numpy()) if len(out) >= _BGNBD_MIN_CUSTOMERS else None
        if nbd is not None:
            prior = {"r": nbd[0], "alpha": nbd[1], "a": None, "b": None,
                     "source": f"fallback NBD fit of the purchase rates (no dropout part; BG/NBD: {e})"}
        else:
            pace = (repeat["recency"] / repeat["frequency"]).median() if len(repeat) else np.nan
            alpha = float(pace) if np.isfinite(pace) and pace > 0 else max(float(out["T"].median()), 1.0)
            prior = {"r": 1.0, "alpha": alpha, "a": None, "b": None,
                     "source": f"fallback gamma prior (r=1, α=median weeks per repeat purchase; BG/NBD: {e})"}
    out.attrs["prior"] = prior
    return out


def _fit_nbd(x: np.ndarray, T: np.ndarray) -> tuple[float, float] | None:
    """Maximum-likelihood gamma prior (r, α) of Poisson purchase rates from x repeat purchases in T
    weeks (the NBD, no dropout); None when it does not converge inside exp(±12)."""
    from scipy.optimize import minimize
    from scipy.special import gammaln
    keep = T > 0
    if keep.sum() < 2 or not (x[keep] > 0).any():
        return None
    keys, w = np.unique(np.column_stack([x[keep], T[keep]]), axis=0, return_counts=True)
    xx, TT = keys[:, 0], keys[:, 1]

    def nll(lp):
        r, a = np.exp(lp)
        ll = gammaln(r + xx) - gammaln(r) + r * np.log(a / (a + TT)) + xx * np.log(TT / (a + TT))
        v = -(w * ll).sum() / w.sum()
        return v if np.isfinite(v) else 1e100

    with np.errstate(all="ignore"):
        res = minimize(nll, np.array([0.0, np.log(max(float(np.median(TT)), 1e-3))]), method="L-BFGS-B",
                       bounds=[(-12.0, 12.0)] * 2)
    if not np.isfinite(res.fun) or np.any(np.abs(res.x) > 11.5):
        return None
    r, a = np.exp(res.x)
    return float(r), float(a)


def _silence_chance(rhythm: pd.DataFrame, extra_days: float = 0.0) -> pd.Series:
    """P(no purchase for the customer's current silence + ``extra_days`` | still buying at own pace).

    The pace λ has the gamma prior of the BG/NBD fit (r, α) updated by the customer's own x repeat
    purchases over the t_x weeks from first to last purchase (when they were surely still
    buying): λ ~ Gamma(r + x, α + t_x), so P(no purchase in s weeks) = ((α+t_x)/(α+t_x+s))^(r+x).
    """
    r, alpha = float(rhythm.attrs["prior"]["r"]), float(rhythm.attrs["prior"]["alpha"])
    s = rhythm["silence_weeks"] + extra_days / 7.0
    base = (alpha + rhythm["recency"]) / (alpha + rhythm["recency"] + s)
    return base ** (r + rhythm["frequency"])


def buying_rhythm(orders: pd.DataFrame | None, at, *, engine=None, max_fit_customers: int | None = None,
                  aggregates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each customer's buying rhythm from orders dated before ``at`` (index customer_id).

    Purchase days (same-day orders merged, as in BG/NBD): purchase_days, frequency (repeat days x),
    recency (first → last purchase t_x, weeks), T (first purchase → the day before ``at``, weeks),
    silence_weeks (T − t_x), p_alive (BG/NBD fitted on these customers; NaN when the fit is not
    possible), silence_chance (:func:`_silence_chance`: how often a silence this long happens at
    the customer's own pace). ``attrs["prior"]``: r, alpha (a, b) and where they came from.
    With an ``engine`` (knowledge.engine; ``orders`` may be None) the purchase days come from its SQL,
    or from ``aggregates`` (:func:`knowledge.churn_sql.churn_order_aggregates` at ``at``) when given.
    """
    if at is None:
        raise GuanxiError("buying_rhythm needs the date `at` (only orders dated before it are used)")
    at = pd.Timestamp(at)
    if aggregates is not None:   # first and last order days, purchase days: as churn_purchase_days gives them
        a = aggregates
        out = _rhythm_from_days(a["first_date"].dt.normalize(), a["last_date"].dt.normalize(), a["purchase_days"], at,
                                max_fit_customers)
    elif engine is not None:
        d = churn_sql.churn_purchase_days(engine, at)
        out = _rhythm_from_days(d["first_day"], d["last_day"], d["purchase_days"], at, max_fit_customers)
    else:
        o = _order_level(orders, at)
        per_order = o.groupby(["customer_id", "order_key"], sort=True).agg(date=("date", "min")).reset_index()
        out = _rhythm_from_orders(per_order, at, max_fit_customers)
    out["silence_chance"] = _silence_chance(out)
    return out


def churn_features(orders: pd.DataFrame | None, customers: pd.DataFrame | None = None,
                   feedback: pd.DataFrame | None = None, at=None, *, rhythm: pd.DataFrame | None = None,
                   engine=None, max_fit_customers: int | None = None) -> pd.DataFrame:
    """Per-customer churn features from rows dated strictly before ``at`` (index customer_id, sorted).

    One row per customer with ≥ 1 order before ``at``. Order features: recency_days, frequency
    (distinct orders), monetary, avg_order_value, tenure_days (first order → at),
    avg_interval_days (NaN for one order), overdue_ratio (recency ÷ interval), orders_30d/90d/180d,
    orders_prev_90d (91-180 days before), trend_90d, amount_90d, n_categories, n_products,
    festival_share (orders 6/1-6/18, 11/1-11/11, 12/10-12/12), order_channel (most used).
    Own pace (:func:`buying_rhythm`; pass ``rhythm`` when already computed at ``at``):
    silence_odds (1 / the chance of a silence this long at the customer's own pace, capped at
    10⁶), p_alive (BG/NBD; NaN when the fit is not possible), last_gap_days (between the last two
    orders), gap_trend (last gap ÷ the earlier gaps' mean, ≥ 3 orders; > 1 = slowing down),
    amount_trend (mean spend of the last 3 orders ÷ the earlier orders' mean, ≥ 4 orders).
    The BG/NBD prior is fitted on all customers' orders before ``at``, so it uses nothing later.
    Feedback created before ``at``: feedback_count, complaints, complaints_90d, open_complaints
    (complaints not resolved before ``at``: status open, or resolved_at ≥ at — a 'resolved'
    status without resolved_at counts as resolved), rating_mean, low_ratings (≤ 2).
    Customer attributes when present: level, channel, province, gender, industry, age_years
    (from birthday), signup_days (sign-up before ``at`` only). Attributes are the table's
    current values (no history is kept for them).
    With an ``engine`` (knowledge.engine; ``orders`` may be None) the order features come from its
    SQL over the order lines (knowledge.churn_sql) instead of pandas; the same values.
    """
    if at is None:
        raise GuanxiError("churn_features needs the date `at` (features use only rows dated before it)")
    at = pd.Timestamp(at)
    if engine is not None:
        return _other_features(_engine_order_features(engine, at, rhythm, max_fit_customers), customers, feedback, at)
    o = _order_level(orders, at)
    per_order = o.groupby(["customer_id", "order_key"], sort=True).agg(date=("date", "min"), amount=("amount", "sum"))
    per_order = per_order.reset_index()
    g = per_order.groupby("customer_id", sort=True)
    first, last = g["date"].min(), g["date"].max()
    feats = pd.DataFrame(index=first.index)
    feats.index.name = "customer_id"
    day = pd.Timedelta(days=1)
    feats["recency_days"] = (at - last) / day
    feats["frequency"] = g.size().astype(float)
    feats["monetary"] = g["amount"].sum(min_count=1)
    feats["avg_order_value"] = feats["monetary"] / feats["frequency"]
    feats["tenure_days"] = (at - first) / day
    span = (last - first) / day
    feats["avg_interval_days"] = (span / (feats["frequency"] - 1)).where(feats["frequency"] > 1)
    feats["overdue_ratio"] = feats["recency_days"] / feats["avg_interval_days"].where(feats["avg_interval_days"] > 0)
    if rhythm is None:
        rhythm = _rhythm_from_orders(per_order, at, max_fit_customers)
    chance = _silence_chance(rhythm).reindex(feats.index)
    feats["silence_odds"] = (1.0 / chance.clip(lower=1.0 / _SILENCE_ODDS_CAP)).astype(float)
    feats["p_alive"] = rhythm["p_alive"].reindex(feats.index).astype(float)
    gap = per_order.sort_values(["customer_id", "date"], kind="mergesort")
    gaps = gap.groupby("customer_id", sort=True)["date"].diff() / day
    gap = gap.assign(gap=gaps.to_numpy())
    last_gap = gap.groupby("customer_id", sort=True)["gap"].last().reindex(feats.index)
    n_orders = feats["frequency"]
    feats["last_gap_days"] = last_gap.where(n_orders >= 2).astype(float)
    earlier = (span - last_gap) / (n_orders - 2)
    feats["gap_trend"] = (last_gap / earlier.where(earlier > 0)).where(n_orders >= 3).astype(float)
    recent = gap.loc[gap.groupby("customer_id", sort=True).cumcount(ascending=False).to_numpy() < 3]
    recent = recent.groupby("customer_id", sort=True)["amount"].agg(["sum", "mean"]).reindex(feats.index)
    last3 = recent["mean"]
    before = (feats["monetary"] - recent["sum"]) / (n_orders - 3)
    feats["amount_trend"] = (last3 / before.where(before > 0)).where(n_orders >= 4).astype(float)
    feats.attrs["rhythm_prior"] = dict(rhythm.attrs["prior"])

    def window(lo_days: int, hi_days: int = 0, col: str | None = None) -> pd.Series:
        m = (per_order["date"] >= at - pd.Timedelta(days=lo_days)) & (per_order["date"] < at - pd.Timedelta(days=hi_days))
        sub = per_order.loc[m]
        s = sub.groupby("customer_id")[col].sum() if col else sub.groupby("customer_id").size()
        return s.reindex(feats.index, fill_value=0).astype(float)

    feats["orders_30d"] = window(30)
    feats["orders_90d"] = window(90)
    feats["orders_180d"] = window(180)
    feats["orders_prev_90d"] = window(180, 90)
    feats["trend_90d"] = feats["orders_90d"] - feats["orders_prev_90d"]
    feats["amount_90d"] = window(90, col="amount")
    if "category" in o:
        feats["n_categories"] = o.groupby("customer_id")["category"].nunique().reindex(feats.index).astype(float)
    prod = "product_id" if "product_id" in o else ("product_name" if "product_name" in o else None)
    if prod:
        feats["n_products"] = o.groupby("customer_id")[prod].nunique().reindex(feats.index).astype(float)
    d = per_order["date"]
    fest = np.zeros(len(per_order), dtype=bool)
    for month, lo, hi in _FESTIVALS:
        fest |= ((d.dt.month == month) & (d.dt.day >= lo) & (d.dt.day <= hi)).to_numpy()
    feats["festival_share"] = (pd.Series(fest, index=per_order.index).groupby(per_order["customer_id"]).mean()
                               .reindex(feats.index).astype(float))
    if "channel" in o:
        ch = o.dropna(subset=["channel"]).groupby(["customer_id", "channel"]).size().reset_index(name="n")
        ch = ch.sort_values(["customer_id", "n", "channel"], ascending=[True, False, True], kind="mergesort")
        feats["order_channel"] = ch.drop_duplicates("customer_id").set_index("customer_id")["channel"].reindex(
            feats.index).astype(object)
    return _other_features(feats, customers, feedback, at)


def _engine_order_features(engine, at: pd.Timestamp, rhythm: pd.DataFrame | None,
                           max_fit: int | None = None, aggregates: pd.DataFrame | None = None) -> pd.DataFrame:
    """The order features of :func:`churn_features` from the engine's per-customer aggregates
    (knowledge.churn_sql; ``aggregates`` when already read), computed with the same expressions as the pandas path."""
    a = churn_sql.churn_order_aggregates(engine, at, _FESTIVALS) if aggregates is None else aggregates
    feats = pd.DataFrame(index=a.index)
    day = pd.Timedelta(days=1)
    first, last = a["first_date"], a["last_date"]
    feats["recency_days"] = (at - last) / day
    feats["frequency"] = a["n_orders"].astype(float)
    feats["monetary"] = a["monetary"].astype(float)
    feats["avg_order_value"] = feats["monetary"] / feats["frequency"]
    feats["tenure_days"] = (at - first) / day
    span = (last - first) / day
    feats["avg_interval_days"] = (span / (feats["frequency"] - 1)).where(feats["frequency"] > 1)
    feats["overdue_ratio"] = feats["recency_days"] / feats["avg_interval_days"].where(feats["avg_interval_days"] > 0)
    if rhythm is None:
        rhythm = _rhythm_from_days(first.dt.normalize(), last.dt.normalize(), a["purchase_days"], at, max_fit)
    chance = _silence_chance(rhythm).reindex(feats.index)
    feats["silence_odds"] = (1.0 / chance.clip(lower=1.0 / _SILENCE_ODDS_CAP)).astype(float)
    feats["p_alive"] = rhythm["p_alive"].reindex(feats.index).astype(float)
    n_orders = feats["frequency"]
    last_gap = (last - a["prev_date"]) / day
    feats["last_gap_days"] = last_gap.where(n_orders >= 2).astype(float)
    earlier = (span - last_gap) / (n_orders - 2)
    feats["gap_trend"] = (last_gap / earlier.where(earlier > 0)).where(n_orders >= 3).astype(float)
    last3 = a["recent_sum"].astype(float) / a["recent_n"].astype(float)
    before = (feats["monetary"] - a["recent_sum"].astype(float)) / (n_orders - 3)
    feats["amount_trend"] = (last3 / before.where(before > 0)).where(n_orders >= 4).astype(float)
    feats.attrs["rhythm_prior"] = dict(rhythm.attrs["prior"])
    for name in ("orders_30d", "orders_90d", "orders_180d", "orders_prev_90d"):
        feats[name] = a[name].astype(float)
    feats["trend_90d"] = feats["orders_90d"] - feats["orders_prev_90d"]
    feats["amount_90d"] = a["amount_90d"].astype(float)
    for name in ("n_categories", "n_products"):
        if name in a:
            feats[name] = a[name].astype(float)
    feats["festival_share"] = a["festival_orders"].astype(float) / feats["frequency"]
    if "order_channel" in a:
        ch = a["order_channel"].astype(object)
        feats["order_channel"] = ch.where(ch.notna(), np.nan)
    return feats


def _other_features(feats: pd.DataFrame, customers: pd.DataFrame | None, feedback: pd.DataFrame | None,
                    at: pd.Timestamp) -> pd.DataFrame:
    """Feedback and customer-attribute features of :func:`churn_features` joined to ``feats``."""
    day = pd.Timedelta(days=1)
    if feedback is not None:
        _require(feedback, "feedback", ("customer_id", "created_at"))
        feedback = feedback.reset_index(drop=True)
        f = pd.DataFrame({"customer_id": feedback["customer_id"].astype(str),
                          "created_at": _dates(feedback["created_at"], "feedback.created_at")})
        f = f.loc[feedback["customer_id"].notna().to_numpy() & (f["created_at"] < at).to_numpy()]
        fb = feedback.loc[f.index]
        kind = _as_category(fb["kind"]).str.lower() if "kind" in fb else pd.Series(np.nan, index=fb.index)
        is_complaint = (kind == "complaint").to_numpy()
        if "status" in fb:
            status = _as_category(fb["status"]).str.lower()
            still_open = np.array(status == "open", dtype=bool)
        else:
            still_open = np.zeros(len(fb), dtype=bool)
        if "resolved_at" in fb:
            resolved_at = _dates(fb["resolved_at"], "feedback.resolved_at")
            if "status" not in fb:  # no status column: unresolved when there is no resolution date
                still_open = still_open | resolved_at.isna().to_numpy()
            still_open = still_open | (resolved_at >= at).to_numpy()
        recent = (f["created_at"] >= at - pd.Timedelta(days=90)).to_numpy()
        rating = pd.to_numeric(fb["rating"], errors="coerce") if "rating" in fb else pd.Series(np.nan, index=fb.index)
        per = pd.DataFrame({"customer_id": f["customer_id"].to_numpy(), "one": 1.0,
                            "complaint": is_complaint.astype(float),
                            "complaint_90d": (is_complaint & recent).astype(float),
                            "open": (is_complaint & still_open).astype(float),
                            "rating": rating.to_numpy(dtype=float),
                            "low": (rating <= 2).to_numpy(dtype=float)})
        gf = per.groupby("customer_id")
        for name, col in (("feedback_count", "one"), ("complaints", "complaint"), ("complaints_90d", "complaint_90d"),
                          ("open_complaints", "open"), ("low_ratings", "low")):
            feats[name] = gf[col].sum().reindex(feats.index, fill_value=0.0).astype(float)
        feats["rating_mean"] = gf["rating"].mean().reindex(feats.index).astype(float)

    if customers is not None:
        _require(customers, "customers", ("customer_id",))
        c = customers.dropna(subset=["customer_id"]).drop_duplicates("customer_id").copy()
        c.index = c["customer_id"].astype(str)
        c = c.reindex(feats.index)
        for col in _CUSTOMER_CATEGORICAL:
            if col in c:
                feats[col] = _as_category(c[col]).to_numpy()
        if "birthday" in c:
            age = (at - _dates(c["birthday"], "customers.birthday")) / pd.Timedelta(days=365.25)
            feats["age_years"] = age.where((age >= 0) & (age <= 120)).to_numpy(dtype=float)
        if "signup_date" in c:
            sd = _dates(c["signup_date"], "customers.signup_date")
            feats["signup_days"] = ((at - sd) / day).where(sd < at).to_numpy(dtype=float)
    return feats


def churn_labels(orders: pd.DataFrame | None, cutoff, as_of, *, engine=None) -> pd.Series:
    """1 = churned (an order before ``cutoff``, none in [cutoff, as_of)), 0 = bought again; index customer_id.

    The plain label (``label="no_order"``): whatever the customer's own rhythm, so a customer who
    buys twice a year counts as churned after most 90-day windows. :func:`lapse_labels` is the
    own-cycle label churn_scores uses by default. With an ``engine`` (``orders`` may be None): by its SQL.
    """
    cutoff, as_of = pd.Timestamp(cutoff), pd.Timestamp(as_of)
    if engine is not None:
        back = churn_sql.churn_came_back(engine, cutoff, as_of)
        return pd.Series(1 - back.to_numpy(), index=back.index, name="churned", dtype=int)
    before = _order_level(orders, cutoff)
    window = _order_level(orders, as_of)
    window = window.loc[window["date"] >= cutoff]
    active = pd.Index(sorted(before["customer_id"].unique()), name="customer_id")
    came_back = set(window["customer_id"].unique())
    return pd.Series([0 if cid in came_back else 1 for cid in active], index=active, name="churned", dtype=int)


def _check_level(level) -> float:
    try:
        lv = float(level)
    except (TypeError, ValueError):
        raise GuanxiError(f"lapse_level must be a probability between 0 and 1, got {level!r}") from None
    if not 0.0 < lv < 1.0:
        raise GuanxiError(f"lapse_level must be a probability between 0 and 1, got {level!r}")
    return lv


def lapse_labels(orders: pd.DataFrame | None, cutoff, as_of, level: float = LAPSE_LEVEL, *,
                 rhythm: pd.DataFrame | None = None, engine=None) -> pd.Series:
    """Own-cycle churn label: 1 = lapsed, 0 = not; index customer_id (customers with an order before ``cutoff``).

    Lapsed = no order in [cutoff, as_of) *and*, by ``as_of``, a silence that would happen less
    than ``level`` of the time at the customer's own buying pace, measured before the cutoff
    (:func:`buying_rhythm`). A weekly buyer is lapsed after 90 silent days; a twice-a-year buyer is
    not. A customer with one purchase day has no pace of their own: they are judged against the
    population's (the prior), which takes a very long silence to contradict. ``rhythm``:
    :func:`buying_rhythm` at ``cutoff`` when already computed.
    """
    lv = _check_level(level)
    cutoff, as_of = pd.Timestamp(cutoff), pd.Timestamp(as_of)
    no_order = churn_labels(orders, cutoff, as_of, engine=engine)
    if rhythm is None:
        rhythm = buying_rhythm(orders, cutoff, engine=engine)
    chance = _silence_chance(rhythm, extra_days=(as_of - cutoff) / pd.Timedelta(days=1)).reindex(no_order.index)
    out = ((no_order == 1) & (chance < lv)).astype(int).rename("churned")
    out.attrs["prior"] = dict(rhythm.attrs["prior"])
    return out


# --------------------------------------------------------------------------- CRM churn scores

@dataclass
class ChurnResult:
    """CRM churn scores.

    ``scores``: one row per customer with an order before ``as_of`` — customer_id,
    churn_probability, risk_band, reasons_en / reasons_zh (top 3, joined with '; ' / '；'),
    recency_days, frequency, monetary, usual_interval_days, p_alive (BG/NBD), annual_value
    (spend per year since the first order, at least one year counted) and value_at_risk
    (churn_probability × annual_value), as of ``as_of``. ``card``: model card (dict).
    ``train_features`` / ``train_labels``: the training table at the cutoff.
    """
    scores: pd.DataFrame
    card: dict
    provenance: str
    model: TabularChurnModel
    train_features: pd.DataFrame
    train_labels: pd.Series
    as_of: pd.Timestamp
    cutoff: pd.Timestamp
    horizon_days: int
    notes: list[str] = field(default_factory=list)
    deferred_features: pd.DataFrame | None = None   # rows scored without reasons: model.reasons(rows) on demand


def _attribute_gain(X: pd.DataFrame, y: np.ndarray, attrs: list[str], holdout: float, random_state: int,
                    base_exclude: tuple = (), cv: int = 5) -> dict:
    """CV ROC AUC of gradient boosting on the training part without / with the customer attributes
    (``base_exclude``: features left out of both)."""
    idx = np.arange(len(y))
    if holdout > 0:
        idx, _ = train_test_split(idx, test_size=holdout, stratify=y, random_state=random_state)
    X_tr, y_tr = X.iloc[idx], y[idx]
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    out = {}
    for name, exclude in (("behaviour_only", tuple(base_exclude) + tuple(attrs)), ("with_attributes", tuple(base_exclude))):
        schema = _infer_schema(X_tr, exclude=exclude)
        prepared = pd.DataFrame({**{c: _as_numeric(X_tr[c]) for c in schema.numeric},
                                 **{c: _as_category(X_tr[c]) for c in schema.categorical}}, index=X_tr.index)
        est = _hgb_pipeline(schema.numeric, schema.categorical, random_state)
        with threadpool_limits(limits=1):
            out[name] = float(np.mean(cross_val_score(est, prepared[schema.features], y_tr, cv=folds,
                                                      scoring="roc_auc")))
    out["gain"] = out["with_attributes"] - out["behaviour_only"]
    return out


def churn_scores(orders: pd.DataFrame | None, customers: pd.DataFrame | None = None,
                 feedback: pd.DataFrame | None = None, as_of=None, horizon_days: int = 90, random_state: int = 0,
                 holdout: float = 0.2, top_reasons: int = 3, label: str = "own_cycle",
                 lapse_level: float = LAPSE_LEVEL, attributes: str | bool = "auto", engine=None,
                 max_fit_customers: int | None = None, reasons_limit: int | None = None) -> ChurnResult:
    """Churn probability per customer, against each customer's own buying cycle.

    ``label="own_cycle"`` (default): P(by ``as_of + horizon_days`` the customer has bought nothing
    since ``as_of`` and their silence is beyond their own pace — less than ``lapse_level`` likely
    at it; :func:`lapse_labels`). ``label="no_order"``: P(no order in the ``horizon_days`` after
    ``as_of``), whatever the customer's rhythm (:func:`churn_labels`).

    Trains on the customers active before ``cutoff = as_of − horizon_days`` (features at the
    cutoff, labels from [cutoff, as_of)), with the same model selection and calibration as
    :func:`fit_tabular` (``holdout`` kept out for the card's metrics), then scores every
    customer with an order before ``as_of`` on features at ``as_of``. Customers with no orders
    are not scored (counted in ``card['n_customers_without_orders']``).

    ``attributes``: customer-table attributes (level, channel, province, gender, industry, age,
    sign-up) are used when they add ≥ :data:`ATTRIBUTE_MIN_GAIN` cross-validated ROC AUC to the
    behaviour-only model (``"auto"``, the check is in ``card['attribute_check']``), always
    (True) or never (False).

    ``engine`` (knowledge.engine, DuckDB or Spark; ``orders`` may then be None): the features and
    labels are aggregated by its SQL over the workspace's order lines (knowledge.churn_sql), so the
    order table is never loaded; the scores, card and reasons are the pandas path's.

    At scale: past ``max_fit_customers`` training customers the models (the BG/NBD pace priors, the
    attribute check, the churn model) are fitted on a seeded random sample of that many, and
    everyone is scored; past ``reasons_limit`` scored customers only that many get their reasons
    here — those listed first as at risk (probability ≥ 0.5, most value at risk first) — and the
    others' are computed when shown (``deferred_features``; tools.churn_reasons), the same text.
    """
    if engine is None and orders is None:
        raise GuanxiError("churn_scores needs the orders table or an engine over it")
    _require(orders, "orders", ("customer_id", "order_date"))
    try:
        horizon = int(horizon_days)
    except (TypeError, ValueError):
        raise GuanxiError(f"horizon_days must be a whole number of days, got {horizon_days!r}") from None
    if horizon < 1:
        raise GuanxiError(f"horizon_days must be ≥ 1, got {horizon_days!r}")
    if label not in LABELS:
        raise GuanxiError(f"label must be one of {', '.join(LABELS)}; got {label!r}")
    level = _check_level(lapse_level)
    if attributes not in ("auto", True, False):
        raise GuanxiError(f"attributes must be 'auto', True or False; got {attributes!r}")
    if engine is not None:
        n_lines = int(engine.sql("SELECT count(*) AS n FROM orders").column("n")[0].as_py())
        last = engine.last_order() if as_of is None else None
        as_of = resolve_as_of(None, as_of if last is None else last.normalize() + pd.Timedelta(days=1))
        orders = None
    else:
        n_lines = int(len(orders))
        if len(orders) and not pd.api.types.is_datetime64_any_dtype(orders["order_date"]):
            orders = orders.assign(order_date=_dates(orders["order_date"], "orders.order_date"))
        as_of = resolve_as_of(orders, as_of)
    cutoff = as_of - pd.Timedelta(days=horizon)

    if engine is not None:   # one pass over the order lines at the cutoff: the purchase days come with the features
        agg = churn_sql.churn_order_aggregates(engine, cutoff, _FESTIVALS)
        rhythm = buying_rhythm(None, cutoff, engine=engine, max_fit_customers=max_fit_customers, aggregates=agg)
        X_train = _other_features(_engine_order_features(engine, cutoff, rhythm, aggregates=agg), customers, feedback,
                                  cutoff)
        del agg
    else:
        rhythm = buying_rhythm(orders, cutoff, max_fit_customers=max_fit_customers)   # the BG/NBD prior, fitted once
        X_train = churn_features(orders, customers, feedback, at=cutoff, rhythm=rhythm)
    labels = (lapse_labels(orders, cutoff, as_of, level, rhythm=rhythm, engine=engine) if label == "own_cycle"
              else churn_labels(orders, cutoff, as_of, engine=engine))
    y = labels.reindex(X_train.index)
    n, n_churn = int(len(y)), int(y.sum())
    where = f"before the cutoff {fmt_date(cutoff)} (as of {fmt_date(as_of)}, horizon {horizon} days)"
    hint = (" (churned = silent beyond their own buying pace by the end of the horizon)"
            if label == "own_cycle" else "")
    if n == 0:
        raise GuanxiError(f"churn model needs customers with orders {where}; found none — use a later as_of "
                          f"or a shorter horizon_days")
    if n_churn == 0 or n_churn == n:
        found = f"found {n_churn} churned among {n}" if n_churn == 0 else f"found 0 retained among {n}"
        raise GuanxiError(f"churn model needs both churned and retained customers {where}; {found}{hint}")
    if min(n_churn, n - n_churn) < MIN_PER_CLASS:
        raise GuanxiError(f"churn model needs at least {MIN_PER_CLASS} churned and {MIN_PER_CLASS} retained "
                          f"customers {where}; found {n_churn} churned and {n - n_churn} retained among {n}{hint}")

    pick = fit_sample(n, max_fit_customers, random_state)
    X_fit, y_fit = (X_train, y) if pick is None else (X_train.iloc[pick], y.iloc[pick])
    attrs = [c for c in ATTRIBUTE_FEATURES if c in X_train.columns and X_train[c].notna().any()]
    # own cycle: only the features measured against the customer's own pace (OWN_CYCLE_FEATURES)
    base = ([c for c in X_train.columns if c not in OWN_CYCLE_FEATURES and c not in ATTRIBUTE_FEATURES]
            if label == "own_cycle" else [])
    attribute_check, exclude = None, list(base)
    if attrs and attributes == "auto":
        attribute_check = _attribute_gain(X_fit, y_fit.to_numpy(dtype=int), attrs, float(holdout or 0.0), random_state,
                                          base_exclude=tuple(base))
        attribute_check.update(attributes=attrs, min_gain=ATTRIBUTE_MIN_GAIN,
                               used=attribute_check["gain"] >= ATTRIBUTE_MIN_GAIN,
                               method="5-fold CV ROC AUC of gradient boosting on the training part")
        exclude += [] if attribute_check["used"] else attrs
    elif attrs and attributes is False:
        exclude += attrs
    model = TabularChurnModel(holdout=holdout, random_state=random_state, labels=dict(FEATURE_LABELS),
                              exclude=tuple(exclude), groups=FEATURE_GROUPS)
    model.fit(X_fit.assign(churned=y_fit.to_numpy()), "churned")

    X_now = churn_features(orders, customers, feedback, at=as_of, engine=engine, max_fit_customers=max_fit_customers)
    proba = model.predict_proba(X_now)
    annual = X_now["monetary"] * 365.0 / X_now["tenure_days"].clip(lower=365.0)
    explain = reasons_first(proba, annual.fillna(0.0).to_numpy(dtype=float), reasons_limit)
    why = model.reasons(X_now if explain is None else X_now.iloc[explain], top=top_reasons)
    joined_en = why.groupby("row", sort=False)["text_en"].agg("; ".join)
    joined_zh = why.groupby("row", sort=False)["text_zh"].agg("；".join)
    scores = pd.DataFrame({
        "customer_id": X_now.index.astype(str),
        "churn_probability": proba,
        "risk_band": [risk_band(float(p)) for p in proba],
        "reasons_en": joined_en.reindex(X_now.index).fillna("").to_numpy(),
        "reasons_zh": joined_zh.reindex(X_now.index).fillna("").to_numpy(),
        "recency_days": X_now["recency_days"].to_numpy(),
        "frequency": X_now["frequency"].to_numpy(),
        "monetary": X_now["monetary"].to_numpy(),
        "usual_interval_days": X_now["avg_interval_days"].to_numpy(),
        "p_alive": X_now["p_alive"].to_numpy(),
        "annual_value": annual.to_numpy(dtype=float),
        "value_at_risk": proba * annual.fillna(0.0).to_numpy(dtype=float),
    }).reset_index(drop=True)
    deferred = None
    if explain is not None:
        scores["reasons_deferred"] = ~np.isin(np.arange(len(scores)), explain)
        deferred = X_now.iloc[np.flatnonzero(scores["reasons_deferred"].to_numpy())]

    notes = []
    if pick is not None:
        notes.append(f"the models were fitted on a random sample of {len(pick):,} of the {n:,} training customers "
                     f"(setting model_fit_customers); all {len(scores):,} customers are scored")
    if explain is not None:
        notes.append(f"reasons computed at build time for the {len(explain):,} customers listed first as at risk; "
                     f"the others' when shown")
    used_attrs = [c for c in ATTRIBUTE_FEATURES if c in model.features_]
    if attribute_check is not None:
        verdict = "used" if attribute_check["used"] else "left out"
        notes.append(f"customer attributes ({', '.join(attrs)}) change the cross-validated ROC AUC by "
                     f"{attribute_check['gain']:+.3f} ({attribute_check['behaviour_only']:.3f} → "
                     f"{attribute_check['with_attributes']:.3f}): {verdict} (rule: used when ≥ +{ATTRIBUTE_MIN_GAIN})")
    if used_attrs:
        notes.append(f"customer attributes ({', '.join(used_attrs)}) are the table's current values; if they "
                     f"changed after the cutoff (e.g. a level downgrade on lapsing) they flatter the hold-out metrics")
    n_without = 0
    if customers is not None and "customer_id" in customers:
        all_ids = set(customers["customer_id"].dropna().astype(str))
        n_without = len(all_ids - set(scores["customer_id"]))
        if n_without:
            notes.append(f"{n_without} customers have no order before {fmt_date(as_of)} and are not scored")
    one_day = X_train["frequency"] <= 1
    if label == "own_cycle":
        notes.append(f"{int(one_day.sum())} training customers had a single order: no pace of their own, judged "
                     f"against the population's, {int(y[one_day].sum())} of them counted as lapsed")
    prior_c = labels.attrs.get("prior") or X_train.attrs.get("rhythm_prior") or {}
    prior_now = X_now.attrs.get("rhythm_prior") or {}
    for when, pr in (("cutoff", prior_c), ("as_of", prior_now)):
        if pr and str(pr.get("source", "")).startswith("fallback"):
            notes.append(f"buying pace at the {when}: {pr['source']}")
    mc = model.card_
    bands = scores["risk_band"].value_counts()
    end = as_of + pd.Timedelta(days=horizon)
    if label == "own_cycle":
        label_definition = (
            f"churned (lapsed) = ≥ 1 order before {fmt_date(cutoff)}, none in [{fmt_date(cutoff)}, {fmt_date(as_of)}), "
            f"and by {fmt_date(as_of)} a silence that happens less than {level:.0%} of the time at the customer's own "
            f"buying pace (purchase rate from their repeat purchases before the cutoff, shrunk to the BG/NBD gamma "
            f"prior r={prior_c.get('r', float('nan')):.3g}, α={prior_c.get('alpha', float('nan')):.3g} weeks)")
        score_meaning = (f"probability that the customer buys nothing from {fmt_date(as_of)} to {fmt_date(end)} and "
                         f"by then has been silent beyond their own buying pace (< {level:.0%} likely at it)")
    else:
        label_definition = (f"churned = ≥ 1 order before {fmt_date(cutoff)} and none in "
                            f"[{fmt_date(cutoff)}, {fmt_date(as_of)})")
        score_meaning = f"probability of no order in the {horizon} days after {fmt_date(as_of)}"
    card = {
        **{k: v for k, v in mc.items() if k != "provenance"},
        "as_of": fmt_date(as_of), "cutoff": fmt_date(cutoff), "horizon_days": horizon,
        "label": label, "lapse_level": level if label == "own_cycle" else None,
        "n_train_customers": n, "churn_rate": n_churn / n, "n_churned": n_churn,
        **({} if pick is None else {"n_fit_customers": int(len(pick))}),
        "n_scored": int(len(scores)), "n_customers_without_orders": n_without,
        "risk_bands": {name: lower for name, lower in RISK_BANDS},
        "band_counts": {name: int(bands.get(name, 0)) for name, _ in RISK_BANDS},
        "at_risk_share": float(np.mean(proba >= 0.5)) if len(proba) else None,
        "expected_churned": float(np.sum(proba)),
        "label_definition": label_definition,
        "score_meaning": score_meaning,
        "buying_pace_prior": {"cutoff": prior_c, "as_of": prior_now},
        "attribute_check": attribute_check,
        "feature_policy": ((f"own-cycle features only ({', '.join(OWN_CYCLE_FEATURES)}): calendar-clock features "
                            f"(days since the last order, orders in fixed windows, tenure) are left out of the model; "
                            f"customer attributes only when they pass the attribute check")
                           if label == "own_cycle" else "all order, feedback and customer features"),
        "value_definition": ("annual_value = total spend × 365 ÷ days since the first order (at least 365); "
                             "value_at_risk = churn_probability × annual_value"),
        "reasons_method": ("occlusion: P(row) − average P(row with the feature set to typical training values: "
                           "5 quantiles for numbers, category frequencies for categories); the behaviour groups "
                           f"({', '.join(FEATURE_GROUPS)}) are occluded together with {_BACKGROUND_ROWS} training rows"),
        "reason_groups": {k: list(v["features"]) for k, v in FEATURE_GROUPS.items()},
        "notes": notes,
    }
    tables = {"orders": n_lines}
    if customers is not None:
        tables["customers"] = int(len(customers))
    if feedback is not None:
        tables["feedback"] = int(len(feedback))
    prov = provenance("churn_scores", tables, as_of=as_of, cutoff=cutoff, horizon_days=horizon,
                      label=label if label == "no_order" else f"own_cycle (lapse level {level:g})",
                      model=f"{model.chosen_model_} (calibrated {model.calibration}, cv={model.cv})",
                      trained=f"{n} customers, churn rate {n_churn / n:.1%}",
                      holdout_roc_auc=round(mc["roc_auc"], 3) if mc.get("roc_auc") is not None else None,
                      attributes="used" if used_attrs else ("left out" if attrs else None),
                      scored=len(scores), random_state=random_state)
    card["provenance"] = prov
    return ChurnResult(scores=scores, card=card, provenance=prov, model=model, train_features=X_train,
                       train_labels=y, as_of=as_of, cutoff=cutoff, horizon_days=horizon, notes=notes,
                       deferred_features=deferred)


def reasons_first(proba: np.ndarray, annual: np.ndarray, limit: int | None) -> np.ndarray | None:
    """Positions (sorted) of the ``limit`` customers the at-risk list shows first — probability
    ≥ 0.5 first, then the most value at risk, then the highest probability — or None for all."""
    if limit is None or len(proba) <= int(limit):
        return None
    order = np.lexsort((-proba, -(proba * annual), -(proba >= 0.5).astype(int)))
    return np.sort(order[:int(limit)])


def truth_metrics(scores: pd.DataFrame, truth: pd.Series, score: str = "churn_probability",
                  threshold: float = 0.5) -> dict:
    """How a score ranks customers known to have churned (e.g. the demo's planted lapsing ones).

    ``truth``: 1/True = churned, indexed by customer_id (customers missing from it count as 0).
    Returns roc_auc, precision_top_decile (share of churned among the top 10 % by score),
    at_risk_share (score ≥ ``threshold``), truth_share, n.
    """
    if score not in scores:
        raise GuanxiError(f"scores have no {score!r} column")
    y = truth.reindex(scores["customer_id"].astype(str)).fillna(0).astype(int).to_numpy()
    p = scores[score].to_numpy(dtype=float)
    if y.min() == y.max():
        raise GuanxiError("truth_metrics needs both churned and other customers among the scored ones")
    k = max(1, int(math.ceil(0.1 * len(p))))
    top = np.argsort(-p, kind="mergesort")[:k]
    return {"roc_auc": float(roc_auc_score(y, p)), "precision_top_decile": float(np.mean(y[top])),
            "at_risk_share": float(np.mean(p >= threshold)), "truth_share": float(np.mean(y)), "n": int(len(y))}


#: Orders at_risk_customers knows: column sorted on (highest first), then the tie-breakers.
AT_RISK_ORDER = {
    "churn_probability": ["churn_probability", "customer_id"],
    "value_at_risk": ["value_at_risk", "churn_probability", "customer_id"],
}


def at_risk_customers(result: ChurnResult | pd.DataFrame, top: int = 20, min_probability: float = 0.0,
                      by: str = "churn_probability") -> pd.DataFrame:
    """The ``top`` customers (churn probability ≥ ``min_probability``), highest ``by`` first.

    ``by="churn_probability"`` (ties by customer_id) or ``"value_at_risk"`` — the customers worth
    saving first: churn probability × annual value (ties by probability, then customer_id).
    """
    scores = result.scores if isinstance(result, ChurnResult) else result
    if not isinstance(scores, pd.DataFrame) or "churn_probability" not in scores:
        raise GuanxiError("at_risk_customers needs a ChurnResult or a scores table with churn_probability")
    if by not in AT_RISK_ORDER:
        raise GuanxiError(f"by must be one of {', '.join(AT_RISK_ORDER)}; got {by!r}")
    if by not in scores:
        raise GuanxiError(f"the scores table has no {by!r} column (made by churn_scores)")
    if int(top) < 1:
        raise GuanxiError(f"top must be ≥ 1, got {top!r}")
    if not 0.0 <= float(min_probability) <= 1.0:
        raise GuanxiError(f"min_probability must be between 0 and 1, got {min_probability!r}")
    s = scores.loc[scores["churn_probability"] >= float(min_probability)]
    cols = AT_RISK_ORDER[by]
    s = s.sort_values(cols, ascending=[False] * (len(cols) - 1) + [True], kind="mergesort")
    return s.head(int(top)).reset_index(drop=True)
