"""Did a campaign work? Treatment vs control after a window (issue 12, 效果跟踪).

A campaign in the event log (``campaign_created``: treated, control, segment_of; ``campaign_sent``:
sent_at) is measured over the window ``(sent_at, sent_at + window]`` — the days after the sending
day up to ``window`` days (default the setting ``campaign_effect_window_days``, 30) — on:

- **repurchase rate**: the share of the group with ≥ 1 order in the window. Uplift = treated −
  control, 95 % CI by **Newcombe's hybrid score interval** (method 10: from the two Wilson score
  intervals; Newcombe 1998, Stat Med 17:873) — sound for small groups and rates near 0;
- **revenue per customer**: the group's order amount in the window divided by the group's size
  (customers without an order count 0). Uplift with the **Welch** t interval (unequal variances,
  Welch–Satterthwaite degrees of freedom);
- **satisfaction**: the mean feedback rating (1–5) in the window of the customers who rated — each
  rater's mean counts once; Welch interval; only where ratings exist.

An uplift is *distinguishable from no effect* when its 95 % CI excludes 0. A group smaller than
`MIN_GROUP` (`MIN_RATERS` raters for satisfaction) is *too small to tell*: the figures are shown,
no verdict is drawn. When ``sent_at + window`` is after the data's last day, the result says so
(``complete`` False) and every figure is over the days observed so far (partial); a campaign sent on
or after the data's last day has no figures at all (``days_observed`` 0) until newer data is built.

Pure: `measure_campaign(campaign, orders, feedback, as_of)` over DataFrames; `campaigns_from_events`
reads the log's events; `campaign_effect(ws, id)` does both for a workspace.

>>> newcombe_diff(30, 100, 20, 100)[1:]   # doctest: +ELLIPSIS
(-0.02..., 0.22...)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from tools.results import fmt_date, to_jsonable

__all__ = ["Campaign", "MetricEffect", "SegmentEffect", "CampaignEffect", "campaigns_from_events", "measure_campaign",
           "campaign_effect", "find_campaign", "sent_campaigns", "wilson", "newcombe_diff", "welch_diff",
           "segments_as_of", "campaign_choices", "MIN_GROUP", "MIN_RATERS", "DEFAULT_WINDOW_DAYS", "METHODS"]

DEFAULT_WINDOW_DAYS = 30
MIN_GROUP = 30        # customers per group below which no verdict is drawn
MIN_RATERS = 10       # raters per group for satisfaction
Z95 = 1.959963984540054
METHODS = {
    "repurchase_rate": "Newcombe hybrid score interval (Wilson), difference of two proportions",
    "revenue_per_customer": "Welch t interval, difference of two means (unequal variances)",
    "satisfaction": "Welch t interval, difference of two means of each rater's mean rating",
}


# =========================================================================== statistics
def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n; (nan, nan) when n == 0."""
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_diff(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float, float]:
    """p1 − p2 and its 95 % CI by Newcombe's hybrid score method (method 10)."""
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1)
    l2, u2 = wilson(k2, n2)
    d = p1 - p2
    return (d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def _t_quantile(df: float) -> float:
    from scipy.stats import t
    return float(t.ppf(0.975, df)) if math.isfinite(df) and df > 0 else Z95


def mean_ci(x) -> tuple[float, float, float]:
    """Mean and its 95 % t interval (nan when fewer than two values)."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return (math.nan, math.nan, math.nan)
    m = float(x.mean())
    if len(x) < 2:
        return (m, math.nan, math.nan)
    h = _t_quantile(len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return (m, m - h, m + h)


def welch_diff(x1, x2) -> tuple[float, float, float, float]:
    """mean(x1) − mean(x2), its 95 % Welch CI and the Welch–Satterthwaite degrees of freedom."""
    x1, x2 = np.asarray(x1, dtype=float), np.asarray(x2, dtype=float)
    if len(x1) < 2 or len(x2) < 2:
        d = float(x1.mean() - x2.mean()) if len(x1) and len(x2) else math.nan
        return (d, math.nan, math.nan, math.nan)
    a, b = x1.var(ddof=1) / len(x1), x2.var(ddof=1) / len(x2)
    d = float(x1.mean() - x2.mean())
    se = math.sqrt(a + b)
    if se == 0:
        return (d, d, d, math.inf)
    df = (a + b) ** 2 / (a * a / (len(x1) - 1) + b * b / (len(x2) - 1))
    h = _t_quantile(df) * se
    return (d, d - h, d + h, float(df))


# =========================================================================== campaigns from the log
@dataclass
class Campaign:
    """One campaign as the event log tells it (contract of issue 12)."""
    id: str
    name: str = ""
    name_en: str = ""
    occasion: str = ""
    channel: str = ""
    created_at: str = ""
    as_of: str = ""
    sent_at: str | None = None
    cancelled: bool = False
    approved: bool = False
    treated: list[str] = field(default_factory=list)
    control: list[str] = field(default_factory=list)
    sent_to: list[str] = field(default_factory=list)
    segment_of: dict[str, str] = field(default_factory=dict)
    holdout_share: float | None = None
    target_zh: str = ""
    target_en: str = ""

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled else "sent" if self.sent_at else "approved" if self.approved else "created"


def _texts(values) -> list[str]:
    """``[str(v) for v in values]``; the list itself when it holds text only (a payload read back from JSON;
    the types are looked at by ``map``, not a generator: a campaign of 165k ids in 3 ms, not 20)."""
    values = values or []
    return values if set(map(type, values)) <= {str} else [str(v) for v in values]


def _text_map(d) -> dict[str, str]:
    d = d or {}
    return d if set(map(type, d)) <= {str} and set(map(type, d.values())) <= {str} else {
        str(k): str(v) for k, v in d.items()}


def campaigns_from_events(events) -> list[Campaign]:
    """The campaigns of the log's events (``knowledge.events.Event``), in the order created. A campaign
    marked sent in several batches (several ``campaign_sent``) counts from its first sending day, and
    its treated group is every customer marked sent (treated customers never marked sent are in
    neither group: the comparison is of those who got the message against the holdout)."""
    by_id: dict[str, Campaign] = {}
    for e in events:
        p = e.payload or {}
        if e.kind == "campaign_created":
            t = p.get("target") or {}
            by_id[e.subject] = Campaign(
                id=e.subject, name=str(p.get("name") or e.subject), name_en=str(p.get("name_en") or p.get("name") or e.subject),
                occasion=str(p.get("occasion") or ""), channel=str(p.get("channel") or ""), created_at=e.at,
                as_of=str(p.get("as_of") or e.at[:10]), treated=_texts(p.get("treated")),
                control=_texts(p.get("control")), segment_of=_text_map(p.get("segment_of")),
                holdout_share=p.get("holdout_share"), target_zh=str(t.get("description_zh") or ""),
                target_en=str(t.get("description_en") or ""))
        elif e.subject in by_id:
            c = by_id[e.subject]
            if e.kind == "campaign_sent":   # sent in batches: the first day counts, every batch's customers
                day = str(p.get("sent_at") or e.at[:10])[:10]
                c.sent_at = min(c.sent_at, day) if c.sent_at else day
                c.sent_to = list(dict.fromkeys(c.sent_to + [str(x) for x in p.get("customers") or c.treated]))
            elif e.kind == "campaign_approved":
                c.approved = True
            elif e.kind == "campaign_cancelled":
                c.cancelled = True
    return list(by_id.values())


def sent_campaigns(campaigns: list[Campaign], occasion: str | None = None) -> list[Campaign]:
    """Campaigns marked sent (not cancelled), most recently sent first; of ``occasion`` when given."""
    out = [c for c in campaigns if c.sent_at and not c.cancelled and (not occasion or c.occasion == occasion)]
    return sorted(out, key=lambda c: (c.sent_at, c.created_at), reverse=True)


def find_campaign(campaigns: list[Campaign], campaign: str | None = None, occasion: str | None = None) -> Campaign:
    """A campaign by id (or a unique prefix / name), or "last": the most recently sent (of ``occasion``)."""
    key = str(campaign or "").strip()
    if key and key.lower() not in ("last", "latest", "上次", "最近"):
        exact = [c for c in campaigns if c.id.lower() == key.lower()]
        found = exact or [c for c in campaigns if c.id.lower().startswith(key.lower())] or \
            [c for c in campaigns if key.lower() in (c.name.lower(), c.name_en.lower())] or \
            [c for c in campaigns if key.lower() in c.name.lower() or key.lower() in c.name_en.lower()]   # "双十一"
        if len(found) == 1:
            return found[0]
        if not found:
            known = ", ".join(c.id for c in sent_campaigns(campaigns)[:5]) or "none sent yet"
            raise GuanxiError(f"no campaign {key!r} in the event log (recent: {known})")
        raise GuanxiError(f"campaign {key!r} is ambiguous: {', '.join(c.id for c in found[:5])}")
    sent = sent_campaigns(campaigns, occasion)
    if not sent:
        what = f"no {occasion} campaign" if occasion else "no campaign"
        raise GuanxiError(f"{what} has been marked sent yet, so there is nothing to measure "
                          f"({len(campaigns)} campaign(s) in the event log)")
    return sent[0]


def segments_as_of(orders: pd.DataFrame, as_of) -> dict[str, str]:
    """{customer_id: RFM segment} from the orders before ``as_of`` (what ``segment_of`` records)."""
    from tools.rfm import rfm_table
    t = rfm_table(orders, as_of=pd.Timestamp(as_of))
    return dict(zip(t["customer_id"].astype(str), t["segment"].astype(str)))


# =========================================================================== results
@dataclass
class MetricEffect:
    metric: str
    treated: float | None
    control: float | None
    uplift: float | None
    ci_low: float | None
    ci_high: float | None
    n_treated: int
    n_control: int
    method: str
    treated_ci: tuple[float | None, float | None] = (None, None)
    control_ci: tuple[float | None, float | None] = (None, None)
    verdict: str = "no_data"     # higher | lower | no_measurable_effect | too_small | no_data
    distinguishable: bool = False


@dataclass
class SegmentEffect:
    segment: str
    n_treated: int
    n_control: int
    treated: float | None
    control: float | None
    uplift: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str


@dataclass
class CampaignEffect:
    campaign_id: str
    name: str
    name_en: str
    occasion: str
    channel: str
    sent_at: str
    window_days: int
    window_start: str
    window_end: str
    observed_to: str
    data_as_of: str
    complete: bool
    days_observed: int
    n_treated: int
    n_control: int
    n_not_in_data: int
    target_zh: str
    target_en: str
    metrics: list[MetricEffect]
    segments: list[SegmentEffect]
    provenance: str
    figure_json: str | None = field(default=None, repr=False)

    def metric(self, name: str) -> MetricEffect | None:
        return next((m for m in self.metrics if m.metric == name), None)

    def to_dict(self) -> dict:
        d = to_jsonable(asdict(self))
        d.pop("figure_json", None)
        return d


def _f(v) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), 6)


def _verdict(lo, hi, small: bool, has: bool) -> tuple[str, bool]:
    if not has:
        return "no_data", False
    if small or lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "too_small", False
    if lo > 0:
        return "higher", True
    if hi < 0:
        return "lower", True
    return "no_measurable_effect", False


def _proportion(k1, n1, k2, n2, metric="repurchase_rate") -> MetricEffect:
    d, lo, hi = newcombe_diff(k1, n1, k2, n2)
    verdict, dist = _verdict(lo, hi, min(n1, n2) < MIN_GROUP, n1 > 0 and n2 > 0)
    return MetricEffect(metric, _f(k1 / n1) if n1 else None, _f(k2 / n2) if n2 else None, _f(d), _f(lo), _f(hi),
                        int(n1), int(n2), METHODS[metric], tuple(map(_f, wilson(k1, n1))), tuple(map(_f, wilson(k2, n2))),
                        verdict, dist)


def _means(x1, x2, metric: str, minimum: int) -> MetricEffect:
    d, lo, hi, _ = welch_diff(x1, x2)
    m1, m2 = mean_ci(x1), mean_ci(x2)
    verdict, dist = _verdict(lo, hi, min(len(x1), len(x2)) < minimum, len(x1) > 0 and len(x2) > 0)
    return MetricEffect(metric, _f(m1[0]), _f(m2[0]), _f(d), _f(lo), _f(hi), len(x1), len(x2), METHODS[metric],
                        (_f(m1[1]), _f(m1[2])), (_f(m2[1]), _f(m2[2])), verdict, dist)


def measure_campaign(c: Campaign, orders: pd.DataFrame, feedback: pd.DataFrame | None, as_of,
                     window_days: int = DEFAULT_WINDOW_DAYS, known_customers=None,
                     window_lines=None) -> CampaignEffect:
    """Treatment vs control of a sent campaign over ``(sent_at, sent_at + window_days]``, cut at the
    data's ``as_of`` (the day after its last day). ``known_customers``: the customer ids of the data —
    group members not in it are left out and counted (``n_not_in_data``). ``window_lines(after,
    through)`` → (revenue per customer, lines): the window's order lines grouped elsewhere
    (`tools.orders_index.window_revenue`, over the Parquet); ``orders`` is then not read."""
    if not c.sent_at:
        raise GuanxiError(f"campaign {c.id} has not been marked sent yet: nothing to measure")
    try:
        window_days = int(window_days)
    except (TypeError, ValueError):
        raise GuanxiError(f"window_days must be a whole number of days, got {window_days!r}") from None
    if not 1 <= window_days <= 365:
        raise GuanxiError(f"window_days must be between 1 and 365, got {window_days}")
    for col in ("customer_id", "order_date", "amount") if window_lines is None else ():
        if col not in orders.columns:
            raise GuanxiError(f"campaign effect: the orders table has no column {col!r}")
    sent = pd.Timestamp(c.sent_at).normalize()
    as_of = pd.Timestamp(as_of).normalize()
    end = sent + pd.Timedelta(days=window_days)
    last_day = as_of - pd.Timedelta(days=1)
    observed_to = min(end, last_day)
    complete = end <= last_day
    days_observed = max(0, int((observed_to - sent).days))

    known = None if known_customers is None else (
        known_customers if isinstance(known_customers, (frozenset, dict)) else set(map(str, known_customers)))
    treated = [x for x in dict.fromkeys(c.sent_to or c.treated) if known is None or x in known]
    in_treated = set(treated)
    control = [x for x in dict.fromkeys(c.control) if (known is None or x in known) and x not in in_treated]
    missing = len(set(c.sent_to or c.treated) | set(c.control)) - len(treated) - len(control)

    if window_lines is not None:
        revenue, n_lines = window_lines(sent, observed_to)
    else:
        day = pd.to_datetime(orders["order_date"], errors="coerce").dt.normalize()
        inwin = (day > sent) & (day <= observed_to)
        o = orders.loc[inwin, ["customer_id", "amount"]]
        o = o.assign(customer_id=o["customer_id"].astype(str),
                     amount=pd.to_numeric(o["amount"], errors="coerce").fillna(0.0))
        revenue, n_lines = o.groupby("customer_id")["amount"].sum(), int(inwin.sum())
    buyers = set(revenue.index.tolist())   # not set(index): iterating an Arrow index is 1 µs an id
    t_buy = sum(1 for x in treated if x in buyers)
    c_buy = sum(1 for x in control if x in buyers)
    metrics = [_proportion(t_buy, len(treated), c_buy, len(control))]
    rt = revenue.reindex(treated, fill_value=0.0).to_numpy(float)
    rc = revenue.reindex(control, fill_value=0.0).to_numpy(float)
    metrics.append(_means(rt, rc, "revenue_per_customer", MIN_GROUP))
    n_ratings = 0
    if feedback is not None and len(feedback) and {"customer_id", "created_at", "rating"} <= set(feedback.columns):
        fday = pd.to_datetime(feedback["created_at"], errors="coerce").dt.normalize()
        f = feedback.loc[(fday > sent) & (fday <= observed_to), ["customer_id", "rating"]]
        f = f.assign(customer_id=f["customer_id"].astype(str), rating=pd.to_numeric(f["rating"], errors="coerce")).dropna()
        n_ratings = len(f)
        per = f.groupby("customer_id")["rating"].mean()
        metrics.append(_means(per.reindex([x for x in treated if x in per.index]).to_numpy(float),
                              per.reindex([x for x in control if x in per.index]).to_numpy(float),
                              "satisfaction", MIN_RATERS))
    segments = []
    if days_observed == 0:   # sent after the data's last day: nothing to compare yet (not 0 % vs 0 %)
        metrics = []
    if c.segment_of and days_observed > 0:
        for seg in sorted({c.segment_of.get(x, "") for x in treated + control} - {""}):
            st = [x for x in treated if c.segment_of.get(x) == seg]
            sc = [x for x in control if c.segment_of.get(x) == seg]
            m = _proportion(sum(x in buyers for x in st), len(st), sum(x in buyers for x in sc), len(sc))
            segments.append(SegmentEffect(seg, len(st), len(sc), m.treated, m.control, m.uplift, m.ci_low, m.ci_high,
                                          m.verdict))
        segments.sort(key=lambda s: (-(s.n_treated + s.n_control), s.segment))
    prov = (f"tools.campaign_effect.measure_campaign · campaign {c.id} · events.sqlite (campaign_created, campaign_sent) · "
            f"orders ({n_lines:,} lines in the window) · feedback ({n_ratings:,} ratings in the window) · "
            f"window {fmt_date(sent + pd.Timedelta(days=1))}..{fmt_date(observed_to)}"
            f"{'' if complete else ' (partial)'} · as of {fmt_date(as_of)} · Newcombe / Welch 95% CI")
    res = CampaignEffect(
        campaign_id=c.id, name=c.name, name_en=c.name_en, occasion=c.occasion, channel=c.channel, sent_at=fmt_date(sent),
        window_days=window_days, window_start=fmt_date(sent + pd.Timedelta(days=1)), window_end=fmt_date(end),
        observed_to=fmt_date(observed_to), data_as_of=fmt_date(as_of), complete=bool(complete),
        days_observed=days_observed, n_treated=len(treated), n_control=len(control), n_not_in_data=int(missing),
        target_zh=c.target_zh, target_en=c.target_en, metrics=metrics, segments=segments, provenance=prov)
    from tools.campaign_effect_report import effect_figure
    res.figure_json = effect_figure(res)
    return res


def campaign_effect(ws, campaign_id: str | None = None, window_days: int | None = None, occasion: str | None = None,
                    settings=None) -> CampaignEffect:
    """The effect of one campaign of a workspace (by id, or the last one sent, of ``occasion``):
    what the app's campaign page and the chat tool show. ``figure_json`` is the chart."""
    from knowledge.events import EventLog
    campaigns = campaigns_from_events(EventLog.of(ws).events(
        kind=("campaign_created", "campaign_approved", "campaign_sent", "campaign_cancelled")))
    c = find_campaign(campaigns, campaign_id, occasion)
    if window_days is None:
        window_days = getattr(settings, "campaign_effect_window_days", None) or DEFAULT_WINDOW_DAYS
    customers = ws.table("customers")
    fb = ws.table("feedback")
    return measure_campaign(c, None, fb, ws.as_of(), window_days, window_lines=workspace_lines(ws),
                            known_customers=known_ids(ws) if "customer_id" in customers else None)


def known_ids(ws) -> dict[str, None]:
    """The workspace's customer ids as text, as a dict's keys (a set the cyclic GC does not walk), once per workspace."""
    from tools.context import cached
    return cached(ws, "known_customer_ids", lambda: dict.fromkeys(ws.table("customers")["customer_id"].astype(str).tolist()))


def workspace_lines(ws):
    """`measure_campaign`'s ``window_lines`` for a workspace: DuckDB over its order Parquet."""
    from tools.orders_index import window_revenue
    return lambda after, through: window_revenue(ws, after, through)


def campaign_choices(ws) -> list[tuple[str, str]]:
    """(label, id) of the workspace's campaigns marked sent, most recent first (the app's picker)."""
    from knowledge.events import EventLog
    cs = campaigns_from_events(EventLog.of(ws).events(
        kind=("campaign_created", "campaign_approved", "campaign_sent", "campaign_cancelled")))
    return [(f"{c.sent_at} · {c.name} · {c.id}", c.id) for c in sent_campaigns(cs)]
