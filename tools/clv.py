"""Customer lifetime value: BG/NBD (how many purchases) × Gamma-Gamma (how much per purchase).

Deterministic maximum-likelihood fits with scipy, no `lifetimes` dependency, checked against the
published CDNOW figures (tests/tools/test_clv.py):

* BG/NBD — Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
  the Pareto/NBD Model", Marketing Science 24(2). CDNOW: r=0.243, α=4.414, a=0.793, b=2.426.
* Gamma-Gamma — Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer
  Base Analysis", J. Marketing Research 42(4). CDNOW: p=6.25, q=3.74, v=15.44.

Summary data follow `lifetimes` exactly: purchases on the same day are merged; ``frequency`` =
number of repeat purchase days, ``recency`` = first → last purchase, ``T`` = first purchase → end
of the calibration period (inclusive), in weeks (days / 7) or days; ``monetary_value`` = mean of
the repeat days' spend (0 when frequency is 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from knowledge.errors import GuanxiError
from tools.results import fit_sample, provenance, resolve_as_of

__all__ = [
    "summary_from_transactions", "fit_bgnbd", "fit_gamma_gamma", "p_alive", "expected_purchases",
    "expected_avg_value", "customer_lifetime_value", "clv_table", "clv_from_summary", "ClvResult",
]

_UNIT_DAYS = {"W": 7.0, "D": 1.0}
# Time units per month in lifetimes' CLV step (its constants, so results match it).
_PER_MONTH = {"W": 4.345, "D": 30.0}
# Hardie's column names are accepted for the summary columns.
_ALIASES = {"frequency": "x", "recency": "t_x", "T": "T", "monetary_value": "zbar"}
_LOG_BOUND = 18.0  # fits in log space are bounded to exp(±18); hitting it means no interior optimum


def _unit(freq: str) -> float:
    if freq not in _UNIT_DAYS:
        raise GuanxiError(f"freq must be 'W' (weeks) or 'D' (days), got {freq!r}")
    return _UNIT_DAYS[freq]


def _day(value, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as e:
        raise GuanxiError(f"{what} must be a date, got {value!r}") from e
    if pd.isna(ts):
        raise GuanxiError(f"{what} must be a date, got {value!r}")
    return ts.normalize()


# --------------------------------------------------------------------------- summary data

def summary_from_transactions(transactions: pd.DataFrame, customer_col: str, date_col: str,
                              monetary_col: str | None = None, calibration_end=None, freq: str = "W",
                              observation_end=None) -> pd.DataFrame:
    """Per-customer frequency / recency / T (and monetary_value) from a transaction log.

    Same-day purchases are merged (their amounts summed); transactions after ``calibration_end``
    (inclusive day) are dropped; ``T`` is measured to ``calibration_end``. ``observation_end`` is
    the `lifetimes` name (``observation_period_end``) for the same date, accepted as an alias; the
    default is the last transaction day. Units: ``freq="W"`` weeks (days / 7), ``"D"`` days.
    """
    unit = _unit(freq)
    if not isinstance(transactions, pd.DataFrame):
        raise GuanxiError("transactions must be a DataFrame")
    cols = [customer_col, date_col] + ([monetary_col] if monetary_col else [])
    missing = [c for c in cols if c not in transactions.columns]
    if missing:
        raise GuanxiError(f"transactions lack column(s) {missing}; have {list(transactions.columns)}")
    df = transactions[cols].copy()
    df.columns = ["customer", "day"] + (["value"] if monetary_col else [])
    day = df["day"]
    if not pd.api.types.is_datetime64_any_dtype(day):
        if pd.api.types.is_integer_dtype(day):  # YYYYMMDD integers, as in CDNOW
            day = day.astype(str)
        day = pd.to_datetime(day, errors="coerce", format="mixed")
    if day.isna().any():
        bad = df.loc[day.isna(), "day"].iloc[0]
        raise GuanxiError(f"column {date_col!r} has {int(day.isna().sum())} value(s) that are not dates "
                          f"(e.g. {bad!r})")
    df["day"] = day.dt.tz_localize(None).dt.normalize() if day.dt.tz is not None else day.dt.normalize()
    if df["customer"].isna().any():
        raise GuanxiError(f"column {customer_col!r} has {int(df['customer'].isna().sum())} empty value(s)")
    if monetary_col:
        df["value"] = pd.to_numeric(df["value"], errors="coerce")
        if df["value"].isna().any():
            raise GuanxiError(f"column {monetary_col!r} has {int(df['value'].isna().sum())} non-numeric value(s)")

    if calibration_end is not None and observation_end is not None \
            and _day(calibration_end, "calibration_end") != _day(observation_end, "observation_end"):
        raise GuanxiError("give calibration_end or observation_end (the same date), not two different dates")
    end = calibration_end if calibration_end is not None else observation_end
    end = _day(end, "calibration_end") if end is not None else (df["day"].max() if len(df) else None)
    df = df[df["day"] <= end] if end is not None else df
    if df.empty:
        raise GuanxiError("no transactions on or before the calibration end"
                          + (f" {end:%Y-%m-%d}" if end is not None else ""))

    if monetary_col:
        daily = df.groupby(["customer", "day"], sort=True)["value"].sum().reset_index()
    else:
        daily = df.drop_duplicates(["customer", "day"]).sort_values(["customer", "day"])
    g = daily.groupby("customer", sort=True)["day"]
    first, last, n = g.min(), g.max(), g.size()
    out = pd.DataFrame({
        "frequency": (n - 1).astype("int64"),
        "recency": (last - first).dt.days / unit,
        "T": (end - first).dt.days / unit,
    })
    if monetary_col:
        total = daily.groupby("customer", sort=True)["value"].sum()
        first_value = daily.groupby("customer", sort=True)["value"].first()  # sorted by day
        repeat = (total - first_value).where(out["frequency"] > 0, 0.0)
        out["monetary_value"] = (repeat / out["frequency"].where(out["frequency"] > 0, 1)).astype(float)
    out.index.name = customer_col
    return out


# --------------------------------------------------------------------------- validation

def _col(summary: pd.DataFrame, name: str) -> np.ndarray:
    if name in summary.columns:
        s = summary[name]
    elif _ALIASES[name] in summary.columns:
        s = summary[_ALIASES[name]]
    else:
        raise GuanxiError(f"summary lacks column {name!r} (or {_ALIASES[name]!r}); have {list(summary.columns)}")
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(v).all():
        raise GuanxiError(f"summary column {name!r} has {int((~np.isfinite(v)).sum())} missing/non-numeric value(s)")
    return v


def _rft(summary: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(summary, pd.DataFrame) or summary.empty:
        raise GuanxiError("summary is empty: need one row per customer with frequency, recency, T")
    x, tx, T = _col(summary, "frequency"), _col(summary, "recency"), _col(summary, "T")
    _check_rft(x, tx, T)
    return x, tx, T


def _check_rft(x, tx, T) -> None:
    for name, v in (("frequency", x), ("recency", tx), ("T", T)):
        if (np.asarray(v) < 0).any():
            raise GuanxiError(f"{name} has {int((np.asarray(v) < 0).sum())} negative value(s)")
    if (np.asarray(x) != np.round(x)).any():
        raise GuanxiError("frequency must be whole numbers (repeat purchase periods)")
    if (np.asarray(tx) > np.asarray(T) + 1e-9).any():
        raise GuanxiError(f"recency > T for {int((np.asarray(tx) > np.asarray(T) + 1e-9).sum())} customer(s): "
                          "recency is first→last purchase, T first purchase→end of period")
    if ((np.asarray(x) == 0) & (np.asarray(tx) > 0)).any():
        raise GuanxiError("customers with frequency 0 must have recency 0")


def _bg(params: dict) -> tuple[float, float, float, float]:
    try:
        r, alpha, a, b = (float(params[k]) for k in ("r", "alpha", "a", "b"))
    except (KeyError, TypeError) as e:
        raise GuanxiError("BG/NBD params need r, alpha, a, b (from fit_bgnbd)") from e
    if min(r, alpha, a, b) <= 0:
        raise GuanxiError(f"BG/NBD params must be positive, got r={r}, alpha={alpha}, a={a}, b={b}")
    return r, alpha, a, b


def _gg(params: dict) -> tuple[float, float, float]:
    try:
        p, q, v = (float(params[k]) for k in ("p", "q", "v"))
    except (KeyError, TypeError) as e:
        raise GuanxiError("Gamma-Gamma params need p, q, v (from fit_gamma_gamma)") from e
    if min(p, q, v) <= 0:
        raise GuanxiError(f"Gamma-Gamma params must be positive, got p={p}, q={q}, v={v}")
    return p, q, v


def _arr(v) -> np.ndarray:
    return np.asarray(v, dtype=float)


def _like(result: np.ndarray, *inputs):
    """Return a Series when an input was a Series (keeping its index), a float for scalars."""
    for i in inputs:
        if isinstance(i, pd.Series):
            return pd.Series(result, index=i.index)
    return float(result) if np.ndim(result) == 0 else result


# --------------------------------------------------------------------------- fitting

def _minimise(nll, x0: np.ndarray, n: int, model: str) -> tuple[np.ndarray, float]:
    """L-BFGS-B from a few starts in log space, polished with Nelder-Mead; raises on failure."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    best = None
    with np.errstate(all="ignore"):
        for start in (x0, x0 + 1.0, x0 - 1.0):
            res = minimize(nll, start, method="L-BFGS-B", bounds=bounds)
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                best = res
        if best is not None:
            polish = minimize(nll, best.x, method="Nelder-Mead",
                              options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000})
            if np.isfinite(polish.fun) and polish.fun <= best.fun:
                best = polish
    if best is None or not np.isfinite(best.fun) or np.any(np.abs(best.x) > _LOG_BOUND - 0.5):
        raise GuanxiError(f"{model} fit did not converge on {n} customers; too few repeat buyers or too little "
                          "variation in the data?")
    return best.x, float(best.fun)


def _bgnbd_ll(r, alpha, a, b, x, tx, T):
    """Per-customer BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(summary: pd.DataFrame, max_customers: int | None = None, random_state: int = 0) -> dict:
    """Maximum-likelihood BG/NBD fit (Fader, Hardie & Lee 2005).

    L(r,α,a,b | x,t_x,T) = B(a,b+x)/B(a,b) · Γ(r+x)α^r/Γ(r) · [ (α+T)^-(r+x)
                           + 1{x>0} · a/(b+x-1) · (α+t_x)^-(r+x) ].
    Returns {"r", "alpha", "a", "b", "ll" (total log-likelihood), "converged", "n"}. Past
    ``max_customers`` the fit uses a seeded random sample of that many ("fitted_on"); ll is over all.
    """
    x_all, tx_all, T_all = _rft(summary)
    pick = fit_sample(len(x_all), max_customers, random_state)
    x, tx, T = (x_all, tx_all, T_all) if pick is None else (x_all[pick], tx_all[pick], T_all[pick])
    if not (x > 0).any():
        raise GuanxiError(f"BG/NBD needs repeat buyers: none of the {len(x)} customers bought more than once")
    if (T <= 0).all():
        raise GuanxiError("BG/NBD needs an observation period: every T is 0")
    # Unique (x, t_x, T) rows with weights; time rescaled so α starts near 1.
    keys, counts = np.unique(np.column_stack([x, tx, T]), axis=0, return_counts=True)
    scale = float(T.max())
    ux, utx, uT, w = keys[:, 0], keys[:, 1] / scale, keys[:, 2] / scale, counts.astype(float)

    def nll(lp):
        r, alpha, a, b = np.exp(lp)
        ll = _bgnbd_ll(r, alpha, a, b, ux, utx, uT)
        v = -(w * ll).sum() / w.sum()
        return v if np.isfinite(v) else 1e100

    lp, _ = _minimise(nll, np.zeros(4), len(x), "BG/NBD")
    r, alpha, a, b = np.exp(lp)
    alpha *= scale
    ll = float(np.sum(_bgnbd_ll(r, alpha, a, b, x_all, tx_all, T_all)))
    return {"r": float(r), "alpha": float(alpha), "a": float(a), "b": float(b), "ll": ll,
            "converged": True, "n": int(len(x_all)), **({} if pick is None else {"fitted_on": int(len(x))})}


def _gg_ll(p, q, v, x, m):
    """Per-customer Gamma-Gamma log-likelihood of the mean spend m over x repeat purchases."""
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))


def fit_gamma_gamma(summary: pd.DataFrame, max_customers: int | None = None, random_state: int = 0) -> dict:
    """Maximum-likelihood Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV").

    Fitted on customers with frequency > 0 and monetary_value > 0:
    f(m̄ | p,q,v,x) = Γ(px+q) / (Γ(px)Γ(q)) · v^q m̄^(px-1) x^(px) / (v + x m̄)^(px+q).
    Returns {"p", "q", "v", "ll", "converged", "n"} (n = customers used). Past ``max_customers``
    repeat buyers the fit uses a seeded random sample of that many ("fitted_on"); ll is over all.
    """
    if not isinstance(summary, pd.DataFrame) or summary.empty:
        raise GuanxiError("summary is empty: need frequency and monetary_value per customer")
    x, m = _col(summary, "frequency"), _col(summary, "monetary_value")
    if (x < 0).any():
        raise GuanxiError("frequency has negative values")
    keep = (x > 0) & (m > 0)
    if keep.sum() < 3:
        raise GuanxiError(f"Gamma-Gamma needs repeat buyers with positive spend; found {int(keep.sum())} "
                          f"of {len(x)} customers (need at least 3)")
    x_all, m_all = x[keep], m[keep]
    pick = fit_sample(len(x_all), max_customers, random_state)
    x, m = (x_all, m_all) if pick is None else (x_all[pick], m_all[pick])
    scale = float(np.mean(m))  # spend rescaled so v starts near 1

    def nll(lp):
        p, q, v = np.exp(lp)
        val = -np.mean(_gg_ll(p, q, v, x, m / scale))
        return val if np.isfinite(val) else 1e100

    lp, _ = _minimise(nll, np.zeros(3), len(x), "Gamma-Gamma")
    p, q, v = np.exp(lp)
    v *= scale
    return {"p": float(p), "q": float(q), "v": float(v), "ll": float(np.sum(_gg_ll(p, q, v, x_all, m_all))),
            "converged": True, "n": int(len(x_all)), **({} if pick is None else {"fitted_on": int(len(x))})}


# --------------------------------------------------------------------------- predictions

def p_alive(params: dict, frequency, recency, T):
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x))  (BG/NBD eq. 11)."""
    r, alpha, a, b = _bg(params)
    x, tx, TT = _arr(frequency), _arr(recency), _arr(T)
    _check_rft(x, tx, TT)
    with np.errstate(over="ignore"):
        odds = np.exp(np.log(a) - np.log(b + np.maximum(x, 1) - 1)
                      + (r + x) * (np.log(alpha + TT) - np.log(alpha + tx)))
    return _like(np.where(x > 0, 1.0 / (1.0 + odds), 1.0), frequency, recency, T)


def expected_purchases(params: dict, t, frequency, recency, T):
    """E[Y(t) | x, t_x, T]: expected purchases in the next t periods (BG/NBD eq. 10).

    (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) ₂F₁(r+x, b+x; a+b+x-1; t/(α+T+t))] / (1 + 1{x>0}·odds),
    evaluated through Euler's transform ₂F₁(A,B;C;z) = (1-z)^(C-A-B) ₂F₁(C-A, C-B; C; z) so large x
    stays finite.
    """
    r, alpha, a, b = _bg(params)
    if abs(a - 1.0) < 1e-8:  # removable singularity at a = 1
        a = 1.0 + 1e-8
    x, tx, TT, tt = _arr(frequency), _arr(recency), _arr(T), _arr(t)
    _check_rft(x, tx, TT)
    if (tt < 0).any():
        raise GuanxiError("t (prediction horizon) must be ≥ 0")
    z = tt / (alpha + TT + tt)
    c = a + b + x - 1
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        bracket = 1.0 - (1.0 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        odds = np.exp(np.log(a) - np.log(b + np.maximum(x, 1) - 1)
                      + (r + x) * (np.log(alpha + TT) - np.log(alpha + tx)))
        out = c / (a - 1) * bracket / (1.0 + np.where(x > 0, odds, 0.0))
    if not np.all(np.isfinite(out)):
        raise GuanxiError("expected purchases overflowed; check the BG/NBD parameters and time units")
    return _like(out, frequency, recency, T, t)


def expected_avg_value(gg_params: dict, frequency, monetary_value):
    """E[M | p,q,v, x, m̄] = p(v + x·m̄) / (px + q - 1): a weighted mix of the population mean pv/(q-1)
    and the customer's own mean; frequency 0 gives the population mean (needs q > 1)."""
    p, q, v = _gg(gg_params)
    x, m = _arr(frequency), _arr(monetary_value)
    if (x < 0).any():
        raise GuanxiError("frequency has negative values")
    m = np.where(x > 0, m, 0.0)
    den = p * x + q - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, p * (v + x * m) / den, np.nan)
    return _like(out, frequency, monetary_value)


def customer_lifetime_value(bg: dict, gg: dict, summary: pd.DataFrame, months: int = 12,
                            discount_rate_annual: float = 0.1, freq: str = "W") -> pd.Series:
    """Discounted CLV over ``months`` (lifetimes' monthly-step method).

    CLV = Σ_{i=1..months} [E[Y(i·k)] - E[Y((i-1)·k)]] · E[M] / (1+d)^i, with k periods per month
    (4.345 weeks or 30 days, as in lifetimes) and d = (1+annual rate)^(1/12) - 1.
    """
    _unit(freq)
    if months < 1 or int(months) != months:
        raise GuanxiError(f"months must be a positive whole number, got {months!r}")
    if discount_rate_annual <= -1:
        raise GuanxiError(f"discount_rate_annual must be > -1, got {discount_rate_annual}")
    x, tx, T = _rft(summary)
    value = expected_avg_value(gg, x, _col(summary, "monetary_value"))
    clv = _discounted_purchases(bg, x, tx, T, months, discount_rate_annual, freq) * value
    return pd.Series(clv, index=summary.index, name=f"clv_{int(months)}m")


def _discounted_purchases(bg, x, tx, T, months, discount_rate_annual, freq) -> np.ndarray:
    """Σ_i [E[Y(i·k)] - E[Y((i-1)·k)]] / (1+d)^i: the discounted expected purchase count."""
    d = (1.0 + discount_rate_annual) ** (1.0 / 12.0) - 1.0
    k = _PER_MONTH[freq]
    total, prev = np.zeros(len(x)), np.zeros(len(x))
    for i in range(1, int(months) + 1):
        cur = expected_purchases(bg, i * k, x, tx, T)
        total += (cur - prev) / (1.0 + d) ** i
        prev = cur
    return total


# --------------------------------------------------------------------------- CRM entry point

@dataclass
class ClvResult:
    """Per-customer CLV table plus the fitted parameters and where they came from."""

    table: pd.DataFrame          # customer_id, frequency, recency, T, monetary_value, p_alive, ...
    bgnbd: dict                  # r, alpha, a, b, ll, converged, n
    gamma_gamma: dict            # p, q, v, ll, converged, n
    as_of: pd.Timestamp
    provenance: str
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict:
        """Both models' parameters, JSON-ready (the clv_params artefact)."""
        return {"bgnbd": dict(self.bgnbd), "gamma_gamma": dict(self.gamma_gamma),
                "as_of": f"{self.as_of:%Y-%m-%d}", "units": "weeks", "notes": list(self.notes)}


def clv_table(orders: pd.DataFrame, as_of=None, months: int = 12, discount_rate_annual: float = 0.1) -> ClvResult:
    """BG/NBD + Gamma-Gamma CLV for every customer in the canonical orders table.

    Orders on/after ``as_of`` (default: the day after the last order) are excluded; the calibration
    period ends the day before ``as_of``. Order lines are summed per customer and day; days whose
    total is ≤ 0 (refunds) are dropped. Units are weeks. Columns: customer_id, frequency, recency,
    T, monetary_value, p_alive, expected_purchases_90d, expected_avg_value, clv_12m (``clv_{months}m``).
    """
    need = ["customer_id", "order_date", "amount"]
    if not isinstance(orders, pd.DataFrame):
        raise GuanxiError("orders must be a DataFrame")
    missing = [c for c in need if c not in orders.columns]
    if missing:
        raise GuanxiError(f"orders lack column(s) {missing} needed for CLV")
    if months < 1 or int(months) != months:
        raise GuanxiError(f"months must be a positive whole number, got {months!r}")
    as_of = resolve_as_of(orders, as_of)
    df = orders[need].dropna(subset=["customer_id", "order_date"]).copy()
    df["order_date"] = pd.to_datetime(df["order_date"], errors="coerce")
    df["amount"] = pd.to_numeric(df["amount"], errors="coerce").fillna(0.0)
    df = df[df["order_date"].notna() & (df["order_date"] < as_of)]
    if df.empty:
        raise GuanxiError(f"no orders before {as_of:%Y-%m-%d}: nothing to model")
    df["day"] = df["order_date"].dt.normalize()
    daily = df.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    daily = daily[daily["amount"] > 0]
    if daily.empty:
        raise GuanxiError("all orders have amount ≤ 0: nothing to model")
    cal_end = as_of - pd.Timedelta(days=1)
    summary = summary_from_transactions(daily, "customer_id", "day", "amount", calibration_end=cal_end, freq="W")
    return clv_from_summary(summary, as_of, len(orders), months, discount_rate_annual)


def clv_from_summary(summary: pd.DataFrame, as_of, n_orders: int, months: int = 12,
                     discount_rate_annual: float = 0.1, max_fit_customers: int | None = None,
                     random_state: int = 0) -> ClvResult:
    """The fit and table of :func:`clv_table` from a per-customer summary already computed (index
    customer_id; frequency, recency, T, monetary_value in weeks, as :func:`summary_from_transactions`
    or ``knowledge.engine.Engine.purchase_summary`` give it). ``n_orders``: order lines read.
    Past ``max_fit_customers`` both models are fitted on a seeded sample; everyone is scored."""
    if months < 1 or int(months) != months:
        raise GuanxiError(f"months must be a positive whole number, got {months!r}")
    as_of = pd.Timestamp(as_of).normalize()
    if summary.empty:
        raise GuanxiError(f"no orders before {as_of:%Y-%m-%d}: nothing to model")
    n_repeat = int((summary["frequency"] > 0).sum())
    if n_repeat == 0:
        raise GuanxiError(f"CLV needs repeat buyers: none of the {len(summary)} customers bought on more than "
                          f"one day before {as_of:%Y-%m-%d}")
    bg = fit_bgnbd(summary, max_fit_customers, random_state)
    gg = fit_gamma_gamma(summary, max_fit_customers, random_state)
    notes: list[str] = [f"{name} fitted on a random sample of {fit['fitted_on']:,} of {fit['n']:,} customers"
                        for name, fit in (("BG/NBD", bg), ("Gamma-Gamma", gg)) if "fitted_on" in fit]
    value = expected_avg_value(gg, summary["frequency"], summary["monetary_value"])
    if gg["q"] <= 1 or value.isna().any():  # population mean pv/(q-1) undefined: use the repeat buyers' mean
        fallback = float(summary.loc[summary["frequency"] > 0, "monetary_value"].mean())
        value = value.fillna(fallback)
        notes.append(f"Gamma-Gamma q={gg['q']:.3g} ≤ 1: one-time buyers get the repeat buyers' mean spend "
                     f"{fallback:.2f}")
    out = summary.copy()
    out["p_alive"] = p_alive(bg, out["frequency"], out["recency"], out["T"])
    out["expected_purchases_90d"] = expected_purchases(bg, 90 / 7, out["frequency"], out["recency"], out["T"])
    out["expected_avg_value"] = value
    clv_col = f"clv_{int(months)}m"
    clv = _discounted_purchases(bg, out["frequency"].to_numpy(float), out["recency"].to_numpy(float),
                                out["T"].to_numpy(float), months, discount_rate_annual, "W") * value.to_numpy()
    out[clv_col] = clv
    out = out.reset_index()
    prov = provenance("clv_table", {"orders": n_orders}, as_of=as_of, customers=len(out),
                      repeat_buyers=n_repeat, months=months, discount_rate_annual=discount_rate_annual,
                      model="BG/NBD + Gamma-Gamma, weeks, same-day orders merged",
                      **({"fitted_on": bg["fitted_on"]} if "fitted_on" in bg else {}))
    return ClvResult(table=out, bgnbd=bg, gamma_gamma=gg, as_of=as_of, provenance=prov, notes=notes)
