"""The demo company's past campaigns, planted so that effect measurement can be checked against
the truth (issue 12, 效果跟踪).

`plant_campaigns(raw_dir)` runs after `knowledge.demo.generate_demo` on the files it wrote:

- **win-back** (SMS, occasion ``winback``): customers whose last order was 90–540 days before the
  campaign, about 24 % of the customers; a seeded holdout (40 %, stratified by recency × frequency
  band) gets nothing. Each treated
  customer who would not have ordered in the 30 days after sending gets one extra order in that
  window with probability ``u / (1 − b)`` (``b`` = the treated group's own repurchase rate in the
  window without the campaign), so the campaign raises the repurchase rate by ``u`` =
  `WINBACK_UPLIFT` (+10 points) in expectation;
- **中秋 greeting** (WeChat, occasion ``festival``): customers who ordered in the year before;
  no effect at all (the null campaign);
- **VIP thanks** (WeChat, occasion ``vip_thanks``): the biggest spenders, sent nine days before the
  data ends, so its 30-day window is not over (partial figures); no effect.

The extra orders are appended to ``orders.csv`` (order ids ``O<yyyymmdd>9xxxx``: the generator's
sequence within a day never gets that high), the customer's last product at its last price.
``manifest.json`` gets ``truth.campaigns`` (id, occasion, dates, sizes, planted uplift, the groups)
and ``planted.campaign_orders``; its order counts include the extra orders.

`write_campaign_events(log, campaigns, segment_of)` writes each campaign as the event-log contract
says (campaign_created, campaign_approved, campaign_exported, campaign_sent with one ``contact`` per
treated customer) with the historical times; a campaign already in the log is skipped, so rebuilding the demo never
duplicates it. ``segment_of(as_of) -> {customer_id: RFM segment}`` is given by the caller (the
build pipeline, which may use the analyses; this layer may not).

Same files in ⇒ same files and events out (one seeded stream per campaign).
"""
from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from knowledge.export import neutralise_cell

__all__ = ["plant_campaigns", "write_campaign_events", "demo_campaigns", "WINBACK_UPLIFT", "DEMO_ACTOR"]

WINBACK_UPLIFT = 0.10          # planted rise of the repurchase rate (share of customers), win-back
WINDOW_DAYS = 30
HOLDOUT_SHARE = 0.4            # the demo's campaigns were designed as tests: a big holdout
DEMO_ACTOR = "demo"
_SEQ_BASE = 90_000             # extra orders' sequence within the day (the generator's stays far below)


def _as_date(v) -> date:
    return pd.Timestamp(v).date()


def _campaign_id(day: date, key: str, seed, customers: int) -> str:
    tag = hashlib.sha1(f"{seed}:{customers}:{key}".encode()).hexdigest()[:4]
    return f"cmp-{day:%Y%m%d}-{tag}"


def _mid_autumn(end: date, window: int) -> date:
    """The latest 中秋 whose greeting (sent 3 days before) has its window over before ``end``."""
    from lunardate import LunarDate
    for y in range(end.year, end.year - 3, -1):
        ld = LunarDate(y, 8, 15)
        d = ld.to_solar_date() if hasattr(ld, "to_solar_date") else ld.toSolarDate()
        if d - timedelta(days=3) + timedelta(days=window + 1) < end:
            return d
    raise GuanxiError(f"demo campaigns: no mid-autumn festival fits before {end}")  # pragma: no cover


def _split(rng: np.random.Generator, ids: list[str], holdout: float, stratum: pd.Series) -> tuple[list[str], list[str]]:
    """A seeded holdout stratified by ``stratum`` (customer id → a label): within each stratum the
    same share is held out, so the groups start alike (as a campaign's segment-stratified holdout)."""
    treated, control = [], []
    labels = stratum.reindex(ids).fillna("").astype(str).to_numpy()
    for lab in sorted(set(labels)):
        members = [i for i, x in zip(ids, labels) if x == lab]
        order = rng.permutation(len(members))
        k = int(round(holdout * len(members)))
        control += [members[i] for i in order[:k]]
        treated += [members[i] for i in order[k:]]
    return sorted(treated), sorted(control)


def _strata(o: pd.DataFrame, as_of: date) -> pd.Series:
    """Recency band × frequency band before ``as_of`` (what an RFM segment stands for), per customer."""
    g = o.groupby("customer_id")
    gap = (pd.Timestamp(as_of) - g["day"].max()).dt.days
    freq = g["order_id"].nunique()
    r = pd.cut(gap, [-1, 30, 90, 180, 365, 10 ** 6], labels=False)
    f = pd.cut(freq, [0, 1, 3, 7, 10 ** 6], labels=False)
    return r.astype(str) + ":" + f.astype(str)


def plant_campaigns(raw_dir: Path, window_days: int = WINDOW_DAYS) -> list[dict]:
    """Plant the demo's past campaigns into the generated files in ``raw_dir`` (see the module
    docstring); returns ``truth.campaigns``. Running it twice on the same files is refused (the
    manifest already has them), so regenerate the files first."""
    raw_dir = Path(raw_dir)
    mpath = raw_dir / "manifest.json"
    if not mpath.is_file():
        raise GuanxiError(f"{mpath}: no demo manifest (run knowledge.demo.generate_demo first)")
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    if manifest.get("truth", {}).get("campaigns"):
        raise GuanxiError(f"{mpath}: the demo campaigns are already planted (regenerate the demo files)")
    opath = raw_dir / manifest["files"]["orders"]
    seed = manifest.get("seed", 0)
    end = _as_date(manifest["end_date"])
    as_of_data = end + timedelta(days=1)

    orders = pd.read_csv(opath, dtype=str, keep_default_na=False)
    day = pd.to_datetime(orders["order_date"], errors="coerce").dt.normalize()
    amount = pd.to_numeric(orders["amount"], errors="coerce")
    qty = pd.to_numeric(orders["quantity"], errors="coerce")
    duplicates = {c for pair in manifest.get("planted", {}).get("duplicate_customers", {}).get("pairs", [])
                  for c in pair}
    good = day.notna() & (amount > 0) & (qty > 0) & (day <= pd.Timestamp(end)) & \
        ~orders["customer_id"].isin(duplicates)
    o = orders.loc[good].assign(day=day[good], amount_f=amount[good], qty_f=qty[good])
    n_customers = int(manifest["rows"]["customers"])
    size = max(20, int(round(0.24 * n_customers)))

    def before(as_of: date) -> pd.DataFrame:
        return o.loc[o["day"] < pd.Timestamp(as_of)]

    def last_gap(as_of: date) -> pd.Series:
        return (pd.Timestamp(as_of) - before(as_of).groupby("customer_id")["day"].max()).dt.days

    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), 12]).spawn(3)]
    campaigns: list[dict] = []

    # ---- 1. win-back: lapsed customers, planted uplift
    sent = end - timedelta(days=78)
    as_of = sent - timedelta(days=2)
    gap = last_gap(as_of)
    eligible = sorted(gap.index[(gap >= 90) & (gap <= 540)])
    pick = sorted(rngs[0].choice(eligible, size=min(size, len(eligible)), replace=False).tolist())
    campaigns.append(dict(
        key="winback", occasion="winback", channel="sms", name_zh=f"{sent:%Y年%-m月} 流失客户挽回（短信）",
        name_en=f"Win-back by SMS, {sent:%B %Y}", as_of=as_of, sent=sent, ids=pick, uplift=WINBACK_UPLIFT,
        target={"kind": "at_risk", "spec": {"min_days_since_last_order": 90, "max_days_since_last_order": 540},
                "description_zh": "90–540 天未下单的客户", "description_en": "customers with no order in 90–540 days"}))
    # ---- 2. 中秋 greeting: active customers, no effect
    mid = _mid_autumn(end, window_days)
    sent = mid - timedelta(days=3)
    as_of = sent - timedelta(days=2)
    gap = last_gap(as_of)
    eligible = sorted(gap.index[gap <= 365])
    pick = sorted(rngs[1].choice(eligible, size=min(size, len(eligible)), replace=False).tolist())
    campaigns.append(dict(
        key="festival", occasion="festival", channel="wechat", name_zh=f"{mid.year}年中秋问候（微信）",
        name_en=f"Mid-Autumn greeting by WeChat, {mid.year}", as_of=as_of, sent=sent, ids=pick, uplift=0.0,
        festival="中秋",
        target={"kind": "care_calendar", "spec": {"occasion": "festival", "festival": "中秋", "active_days": 365},
                "description_zh": "近一年有购买的客户（中秋问候）",
                "description_en": "customers who bought in the past year (Mid-Autumn greeting)"}))
    # ---- 3. VIP thanks, nine days before the data ends: its window is not over
    sent = end - timedelta(days=9)
    as_of = sent - timedelta(days=1)
    spend = before(as_of).loc[lambda d: d["day"] >= pd.Timestamp(as_of) - pd.Timedelta(days=365)] \
        .groupby("customer_id")["amount_f"].sum().sort_values(ascending=False, kind="stable")
    pick = sorted(spend.index[:max(20, int(round(0.06 * n_customers)))].tolist())
    campaigns.append(dict(
        key="vip_thanks", occasion="vip_thanks", channel="wechat", name_zh=f"{sent:%Y年%-m月} VIP 感谢（微信）",
        name_en=f"VIP thank-you by WeChat, {sent:%B %Y}", as_of=as_of, sent=sent, ids=pick, uplift=0.0,
        target={"kind": "segment", "spec": {"top_spenders_last_365_days": len(pick)},
                "description_zh": "近一年消费最高的客户", "description_en": "the top spenders of the past year"}))

    extra_rows: list[list[str]] = []
    seq: dict[str, int] = {}
    truth = []
    for c, rng in zip(campaigns, rngs):
        treated, control = _split(rng, c.pop("ids"), HOLDOUT_SHARE if c["key"] != "vip_thanks" else 0.2,
                                  _strata(before(c["as_of"]), c["as_of"]))
        sent_ts = pd.Timestamp(c["sent"])
        win_end = sent_ts + pd.Timedelta(days=window_days)
        in_win = o.loc[(o["day"] > sent_ts) & (o["day"] <= win_end), "customer_id"].unique()
        natural = np.isin(treated, in_win)
        added: list[str] = []
        if c["uplift"] > 0 and len(treated):
            b = float(natural.mean())
            p = min(1.0, c["uplift"] / max(1e-9, 1 - b))
            lucky = (~natural) & (rng.random(len(treated)) < p)
            added = [t for t, hit in zip(treated, lucky) if hit]
            last = before(c["as_of"]).sort_values("day", kind="stable").groupby("customer_id").tail(1) \
                .set_index("customer_id")
            for cid in added:
                src = last.loc[cid]
                d = (sent_ts + pd.Timedelta(days=int(rng.integers(1, window_days + 1)))).date()
                if d > end:
                    continue
                key = f"{d:%Y%m%d}"
                seq[key] = seq.get(key, _SEQ_BASE) + 1
                t = f"{int(rng.integers(8, 23)):02d}:{int(rng.integers(0, 60)):02d}:{int(rng.integers(0, 60)):02d}"
                unit = round(float(src["amount_f"]) / float(src["qty_f"]), 2)
                extra_rows.append([f"O{key}{seq[key]:05d}", cid, f"{d:%Y-%m-%d} {t}", src["product_id"], "1",
                                   f"{unit:.2f}", src["channel"]])
        cid = _campaign_id(c["sent"], c["key"], seed, n_customers)
        w_end = c["sent"] + timedelta(days=window_days)
        truth.append({
            "id": cid, "key": c["key"], "name_zh": c["name_zh"], "name_en": c["name_en"], "occasion": c["occasion"],
            "festival": c.get("festival"), "channel": c["channel"], "target": c["target"],
            "as_of": c["as_of"].isoformat(), "created_at": f"{c['as_of']:%Y-%m-%d} 10:00:00",
            "approved_at": f"{c['as_of'] + timedelta(days=1):%Y-%m-%d} 15:30:00",
            "sent_at": c["sent"].isoformat(), "window_days": window_days, "window_end": w_end.isoformat(),
            "window_complete": w_end < as_of_data, "holdout_share": round(len(control) / max(1, len(treated) + len(control)), 4),
            "seed": int(seed), "n_treated": len(treated), "n_control": len(control),
            "planted_uplift_repurchase": c["uplift"],
            "realised_uplift_repurchase": round(len(added) / len(treated), 4) if treated else 0.0,
            "extra_orders": len(added),
            "treated_natural_repurchase": round(float(natural.mean()), 4) if len(treated) else None,
            "treated": treated, "control": control,
        })
    if extra_rows:
        with open(opath, "a", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows([[neutralise_cell(v) for v in r] for r in extra_rows])
    manifest["rows"]["orders"] = int(manifest["rows"]["orders"]) + len(extra_rows)
    manifest["rows"]["orders_distinct"] = int(manifest["rows"]["orders_distinct"]) + len(extra_rows)
    manifest.setdefault("planted", {})["campaign_orders"] = {
        "count": len(extra_rows), "description": "extra orders of the win-back campaign's treated customers in its "
        "window (the planted uplift); appended to the orders file", "order_ids": [r[0] for r in extra_rows]}
    manifest.setdefault("truth", {})["campaigns"] = truth
    mpath.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return truth


def demo_campaigns(raw_dir: Path) -> list[dict]:
    """``truth.campaigns`` of the demo files in ``raw_dir`` ([] when none were planted)."""
    mpath = Path(raw_dir) / "manifest.json"
    if not mpath.is_file():
        return []
    return list(json.loads(mpath.read_text(encoding="utf-8")).get("truth", {}).get("campaigns") or [])


def write_campaign_events(log, campaigns: list[dict],
                          segment_of: Callable[[str], dict[str, str]] | None = None) -> list[str]:
    """Write the planted campaigns into the event log (``knowledge.events.EventLog``) as the contract
    says; a campaign whose ``campaign_created`` is already there is skipped. Returns the ids written."""
    written = []
    for c in campaigns:
        if log.events(kind="campaign_created", subject=c["id"], limit=1):
            continue
        segs = segment_of(c["as_of"]) if segment_of else {}
        members = set(c["treated"]) | set(c["control"])
        created = {
            "name": c["name_zh"], "name_en": c["name_en"], "target": c["target"], "occasion": c["occasion"],
            "festival": c.get("festival"), "channel": c["channel"], "language": "auto", "tone": "warm", "offer": None,
            "seed": c["seed"], "holdout_share": c["holdout_share"], "as_of": c["as_of"],
            "treated": c["treated"], "control": c["control"],
            "segment_of": {k: v for k, v in sorted(segs.items()) if k in members},
            "excluded": {"opt_out": [], "frequency_cap": [], "no_contact": []}, "demo": True,
        }
        log.append("campaign_created", DEMO_ACTOR, c["id"], created, at=c["created_at"])
        log.append("campaign_approved", DEMO_ACTOR, c["id"], {"approved_by_role": "manager"}, at=c["approved_at"])
        # exported for the platform before it was sent: the campaigns' steps in order (tools.campaigns)
        log.append("campaign_exported", DEMO_ACTOR, c["id"], {"format": "csv", "rows": len(c["treated"]),
                                                               "masked": True, "file": None}, at=c["approved_at"])
        rows = [("campaign_sent", DEMO_ACTOR, c["id"], {"sent_at": c["sent_at"], "customers": c["treated"]})]
        rows += [("contact", DEMO_ACTOR, cid, {"campaign_id": c["id"], "channel": c["channel"],
                                                "occasion": c["occasion"], "marketing": True, "sent_at": c["sent_at"]})
                 for cid in c["treated"]]
        log.append_many(rows, at=f"{c['sent_at']} 09:00:00")
        written.append(c["id"])
    return written
