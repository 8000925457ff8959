"""Campaigns: who a care / marketing campaign is for, who is left out and why, and the control group.

A campaign is a list of events in the workspace's event log (`knowledge.events`, subject = the
campaign id "cmp-YYYYMMDD-xxxx"); its state is read back from them (`campaign`, `campaigns`)::

    c = create_campaign(ws, actor="alice", role="manager", target_kind="at_risk", target_spec={"top": 200})
    c.state, c.counts()            # 'drafted', {'targeted': 200, 'treated': 162, 'control': 18, ...}

Steps (the rest is in :mod:`tools.campaigns_flow`): **drafted** (created: target, exclusions,
split) → **approved** (a manager or admin; drafts frozen with the edits) → **exported** (CSV /
.xlsx for the SMS or e-mail platform) → **sent** (a person says so: ``campaign_sent`` plus one
``contact`` event per customer, one transaction); **cancelled** from any step before sent.
Guanxi never sends anything.

Targets (``target_kind`` → ``target_spec``): ``segment`` / ``cn8`` {segment} (RFM segment, eight
classes or tier, any language; "all" = every customer), ``at_risk`` {top, min_probability, segment} (ranked as the
churn tool ranks: probability ≥ threshold first, then value at risk), ``care_calendar`` {days,
occasion} (`tools.care.care_calendar`), ``cluster`` {cluster}, ``metric_query`` {min_days_since_order,
max_days_since_order, segment} (days since the last order at the as-of date), ``customers``
{ids}. Every kind also takes {city, province}.

Contact rules, applied in this order, each customer counted under the first rule that removes
them and every count shown: ``opt_out`` (the customers table's `opt_out` column where the data has
one, and ``WORKSPACE/opt_out.txt`` / ``opt_out.csv``: one customer id a line / a customer_id
column), ``no_contact`` (no phone for sms / wechat, no e-mail for email), ``frequency_cap`` (a
marketing ``contact`` event sent on or after as-of − (cap − 1) days), ``other_campaign`` (treated
in another campaign already approved or exported, not yet sent), ``control_elsewhere`` (in the
control group of another campaign approved, exported or sent less than `CONTROL_KEPT_DAYS` before
the as-of date: messaging them would spoil that campaign's measurement).

Control group: of the eligible customers, ``holdout_share`` (default the setting
`campaign_holdout_percent`) is held out at random per RFM segment — quotas by largest remainder so
the total is round(share × eligible), the members by a shuffle seeded with (seed, segment): the same
seed gives the same split. Stored in ``campaign_created`` (treated, control, segment_of).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import random
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from knowledge.events import EventLog
from knowledge.workspace import Workspace
from tools.context import (ToolError, artefact_by_id, cached, customers_by_id, match_place, resolve_cluster,
                           resolve_customer_id, resolve_segment, rfm_by_id)
from tools.spec import MANAGERS

__all__ = ["CONTROL_KEPT_DAYS", "TARGET_KINDS", "STATES", "EXCLUSION_REASONS", "CHANNEL_CONTACT", "Target", "Campaign",
           "resolve_target", "opted_out", "is_opt_out", "has_contact", "recently_contacted", "holdout_split",
           "create_campaign", "reserved_customers", "campaign", "campaigns", "require_manager", "is_marketing", "new_campaign_id", "contactable"]

TARGET_KINDS = ("segment", "cn8", "at_risk", "care_calendar", "cluster", "metric_query", "customers")
STATES = ("drafted", "approved", "exported", "sent", "cancelled")
EXCLUSION_REASONS = ("opt_out", "no_contact", "frequency_cap", "other_campaign", "control_elsewhere")
#: a control group stays untouched this long after its campaign was sent (the effect's default window)
CONTROL_KEPT_DAYS = 30
#: the customers column a channel needs (WeChat is reached through the phone number it is bound to)
CHANNEL_CONTACT = {"sms": "phone", "wechat": "phone", "email": "email"}
DEFAULT_OCCASION = {"at_risk": "winback", "metric_query": "winback", "care_calendar": "birthday",
                    "segment": "vip_thanks", "cn8": "vip_thanks", "cluster": "vip_thanks", "customers": "vip_thanks"}
OPT_OUT_FILES = ("opt_out.txt", "opt_out.csv")
_ALL = {"all", "everyone", "全部", "所有", "全部客户", "所有客户"}
_YES = {"1", "y", "yes", "true", "t", "x", "是", "拒收", "退订", "已退订", "拒绝", "opt-out", "optout", "opted out",
        "opted_out", "unsubscribed", "dnc", "√", "✓"}


def require_manager(role: str, action_zh: str, action_en: str) -> None:
    """Refuse anyone but a manager or an admin, saying so in both languages."""
    if role not in MANAGERS:
        raise ToolError(f"只有经理或管理员可以{action_zh}（当前角色：{role}） / only a manager or admin may "
                        f"{action_en} (your role: {role})")


def is_marketing(occasion: str) -> bool:
    """Every campaign message is marketing (counted by the frequency cap) but a complaint follow-up."""
    return occasion != "complaint_followup"


# =========================================================================== targets
@dataclass
class Target:
    kind: str
    spec: dict
    ids: list[str]
    description_zh: str
    description_en: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "spec": self.spec, "description_zh": self.description_zh,
                "description_en": self.description_en}


def _int(spec: dict, key: str, default=None, lo: int = 1, hi: int = 1_000_000):
    v = spec.get(key, default)
    if v is None:
        return None
    try:
        n = int(v)
    except (TypeError, ValueError):
        raise ToolError(f"campaign target: {key} must be a whole number, got {v!r}") from None
    if not lo <= n <= hi:
        raise ToolError(f"campaign target: {key} must be from {lo} to {hi}, got {n}")
    return n


def _place_words(spec: dict) -> tuple[str, str]:
    where = [str(spec[k]) for k in ("province", "city") if spec.get(k)]
    return "".join(where), " in " + ", ".join(where) if where else ""


def _segment_ids(ws: Workspace, segment: str) -> tuple[list[str], str, str]:
    rfm = rfm_by_id(ws)
    col, value = resolve_segment(segment)
    return list(map(str, rfm.index[(rfm[col] == value).to_numpy(bool)].tolist())), col, str(value)


def resolve_target(ws: Workspace, kind: str, spec: dict | None = None) -> Target:
    """The customers a campaign target names, in a stable order, with the target in words (zh, en)."""
    spec = {k: v for k, v in dict(spec or {}).items() if v not in (None, "", [])}
    if kind not in TARGET_KINDS:
        raise ToolError(f"unknown campaign target {kind!r}; expected one of {', '.join(TARGET_KINDS)}")
    pz, pe = _place_words(spec)
    if kind in ("segment", "cn8"):
        if not spec.get("segment"):
            raise ToolError("campaign target segment: name the segment (e.g. At Risk, 重要挽留客户)")
        if str(spec["segment"]).strip().lower() in _ALL:
            ids, kind = [str(i) for i in customers_by_id(ws).index], "segment"
            dz, de = f"{pz}全部客户", f"every customer{pe}"
        else:
            ids, col, value = _segment_ids(ws, spec["segment"])
            kind = "cn8" if col == "segment_cn8" else "segment"
            dz, de = f"{pz}「{value}」分群的客户", f"customers of the segment \"{value}\"{pe}"
    elif kind == "at_risk":
        top = _int(spec, "top", None)
        mp = spec.get("min_probability")
        threshold = 0.5 if mp is None else float(mp) / (100 if float(mp) > 1 else 1)
        churn = artefact_by_id(ws, "churn", "churn scores")
        df = churn[["churn_probability"] + (["value_at_risk"] if "value_at_risk" in churn else [])].copy()
        if spec.get("segment"):
            ids, _, value = _segment_ids(ws, spec["segment"])
            df = df.loc[df.index.intersection(ids)]
        df["_risk"] = df["churn_probability"] >= threshold
        if top is None:
            df = df.loc[df["_risk"]]
        by = ["_risk"] + (["value_at_risk"] if "value_at_risk" in df else []) + ["churn_probability"]
        df = df.sort_values(by, ascending=False, kind="stable")
        ids = [str(i) for i in df.index]
        seg = f"「{spec['segment']}」中" if spec.get("segment") else ""
        dz = (f"{pz}{seg}流失风险最高的 {top} 位客户（流失概率 ≥ {threshold:g} 优先，按风险价值排序）" if top else
              f"{pz}{seg}流失概率 ≥ {threshold:g} 的全部客户")
        de = (f"the {top} customers{pe} most at risk of churning (probability ≥ {threshold:g} first, by value at risk)"
              if top else f"every customer{pe} with churn probability ≥ {threshold:g}")
        de += f" in the segment {spec['segment']}" if spec.get("segment") else ""
    elif kind == "care_calendar":
        from tools.care_plan import workspace_window
        days = _int(spec, "days", 7, 1, 366)
        occ = str(spec.get("occasion") or "birthday")
        win = workspace_window(ws, days)
        ids = [str(i) for i in win.customer_ids(occ)]
        window_end = (win.end - pd.Timedelta(days=1)).date().isoformat()
        spec = {**spec, "days": days, "occasion": occ}
        from tools.formatting import OCCASION_EN, OCCASION_ZH
        a = win.plan.as_of.date().isoformat()
        dz = f"{pz}未来 {days} 天的{OCCASION_ZH.get(occ, occ)}客户（关怀日历，{a} 至 {window_end}）"
        de = f"customers{pe} with a {OCCASION_EN.get(occ, occ)} in the next {days} days (care calendar, {a} to {window_end})"
    elif kind == "cluster":
        if spec.get("cluster") is None:
            raise ToolError("campaign target cluster: name the cluster (its number or name)")
        cl = resolve_cluster(ws, str(spec["cluster"]))
        if cl is None:
            raise ToolError(f"no cluster {spec['cluster']!r} in the workspace")
        clusters = artefact_by_id(ws, "clusters", "clusters")
        ids = [str(i) for i in clusters.index[clusters["cluster"] == cl]]
        dz, de = f"{pz}聚类「{spec['cluster']}」的客户", f"customers of cluster \"{spec['cluster']}\"{pe}"
    elif kind == "metric_query":
        lo = _int(spec, "min_days_since_order", None, 0, 100_000)
        hi = _int(spec, "max_days_since_order", None, 0, 100_000)
        rfm = rfm_by_id(ws)
        m = pd.Series(True, index=rfm.index)
        if lo is not None:
            m &= rfm["recency_days"] >= lo
        if hi is not None:
            m &= rfm["recency_days"] <= hi
        if spec.get("segment"):
            col, value = resolve_segment(spec["segment"])
            m &= rfm[col] == value
        ids = [str(i) for i in rfm.index[m]]
        cz = [f"{lo} 天以上没有下单" if lo is not None else "", f"最近 {hi} 天内下过单" if hi is not None else "",
              f"属于「{spec['segment']}」" if spec.get("segment") else ""]
        ce = [f"no order in the last {lo} days" if lo is not None else "",
              f"ordered within {hi} days" if hi is not None else "",
              f"in the segment {spec['segment']}" if spec.get("segment") else ""]
        dz = "、".join(c for c in [pz, *cz] if c) + "的客户" if any(cz) or pz else "全部客户"
        de = f"customers{pe}" + (" with " + ", ".join(c for c in ce if c) if any(ce) else "")
    else:
        raw = spec.get("ids") or []
        raw = re.split(r"[\s,;，；、]+", raw) if isinstance(raw, str) else list(raw)
        ids, unknown = [], []
        for x in (str(r).strip() for r in raw):
            if not x:
                continue
            try:
                ids.append(resolve_customer_id(ws, x))
            except ToolError:
                unknown.append(x)
        if unknown:
            raise ToolError(f"campaign target customers: unknown customer id(s) {', '.join(unknown[:10])}"
                            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""))
        ids = list(dict.fromkeys(ids))
        spec = {**spec, "ids": ids}
        dz, de = f"指定的 {len(ids)} 位客户", f"{len(ids)} customers given by id"
    if spec.get("province") or spec.get("city"):
        cust = customers_by_id(ws)
        sub = cust.loc[cust.index.intersection(ids)]
        keep = set(sub.index[match_place(sub["province"], spec.get("province")) & match_place(sub["city"], spec.get("city"))])
        ids = [i for i in ids if i in keep]
    if kind == "at_risk" and spec.get("top"):
        ids = ids[: int(spec["top"])]
    return Target(kind, spec, ids, dz, de)


# =========================================================================== contact rules
def is_opt_out(v) -> bool:
    """A cell of an opt-out column means "opted out" (yes / 1 / true / 是 / 拒收 / 退订 …)."""
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return False
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    return s in _YES or s.startswith(("拒收", "退订", "已退订", "不接收"))


def opted_out(ws: Workspace) -> tuple[set[str], list[str]]:
    """The customers who opted out, and where that came from (column, list files)."""
    out: set[str] = set()
    sources: list[str] = []
    cust = customers_by_id(ws)
    if "opt_out" in cust.columns:   # the column is part of the build: read once per workspace (each value once)
        hit = set(cached(ws, "opt_out_column", lambda: frozenset(cust.index[cust["opt_out"].isin(
            [v for v in cust["opt_out"].unique().tolist() if is_opt_out(v)]).to_numpy(bool)])))
        out |= hit
        sources.append(f"customers table, opt_out column: {len(hit)}")
    for name in OPT_OUT_FILES:
        path = Path(ws.root) / name
        if not path.is_file():
            continue
        ids = _read_opt_out_file(path)
        known = {i for i in ids if i in cust.index}
        out |= known
        sources.append(f"{name}: {len(known)}" + (f" ({len(ids) - len(known)} ids not in the customers table)"
                                                  if len(ids) > len(known) else ""))
    return out, sources


def _read_opt_out_file(path: Path) -> set[str]:
    if path.suffix == ".csv":
        from knowledge.export import restore_formulas
        try:
            df = restore_formulas(pd.read_csv(path, dtype=str, encoding="utf-8-sig"))
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise ToolError(f"{path}: cannot read the opt-out list ({e}); expected a CSV with a customer_id column") from None
        col = next((c for c in df.columns if str(c).strip().lower() in ("customer_id", "客户编号", "客户id", "id")),
                   df.columns[0] if len(df.columns) else None)
        return {str(v).strip() for v in (df[col] if col is not None else []) if str(v).strip() and str(v) != "nan"}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ToolError(f"{path}: the opt-out list is not UTF-8 text (one customer id a line expected)") from None
    return {ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()}


def has_contact(row, channel: str) -> bool:
    """The customer has the contact the channel needs (phone for sms / wechat, e-mail for email)."""
    v = row.get(CHANNEL_CONTACT[channel])
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return False
    s = str(v).strip()
    return "@" in s if channel == "email" else len(re.sub(r"\D", "", s)) >= 7


def contactable(ws: Workspace, channel: str) -> dict[str, None]:
    """The customers `has_contact` accepts for ``channel`` (as the keys of a dict: a set of a million ids the
    cyclic GC does not walk at every collection, as it would a frozenset's), once per workspace and contact column."""
    return cached(ws, f"contactable:{CHANNEL_CONTACT[channel]}",
                  lambda: dict.fromkeys(customers_by_id(ws).index[_contact_mask(ws, channel)].tolist()))


def _contact_mask(ws: Workspace, channel: str) -> np.ndarray:
    """Which rows of `customers_by_id` `has_contact` accepts for ``channel``, once per workspace and contact
    column: text cells by their UTF-8 bytes ("@" is one byte, never part of another character; on ASCII text
    Python's ``\\d`` is 0-9), the phones with other characters and cells not text one by one."""
    col = CHANNEL_CONTACT[channel]

    def build() -> np.ndarray:
        cust = customers_by_id(ws)
        if col not in cust.columns:
            return np.zeros(len(cust), bool)
        s = cust[col]
        if pd.api.types.infer_dtype(s, skipna=True) != "string":   # numbers, mixed cells
            return np.fromiter((has_contact({col: v}, channel) for v in s.tolist()), bool, len(s))
        import pyarrow.compute as pc
        arr = _arrow_text(s)
        given = arr.is_valid().to_numpy(zero_copy_only=False)
        if channel == "email":
            return given & (_byte_counts(arr, lambda b: b == 64) > 0)
        ok = given & (_byte_counts(arr, lambda b: (b >= 48) & (b <= 57)) >= 7)
        other = np.flatnonzero(~pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False))
        ok[other] = [has_contact({col: v}, channel) for v in s.iloc[other].tolist()]
        return ok
    return cached(ws, f"contact_mask:{col}", build)


def _arrow_text(values):
    """A pandas Series or Index of text as one Arrow large_string array (no copy when it is Arrow-backed)."""
    import pyarrow as pa
    arr = pa.array(values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy(object),
                   type=pa.large_string(), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _byte_counts(arr, test) -> np.ndarray:
    """For each string of the Arrow large_string array ``arr``, how many of its UTF-8 bytes pass ``test``."""
    offsets = np.frombuffer(arr.buffers()[1], np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    if data is None or not len(arr) or offsets[-1] == offsets[0]:
        return np.zeros(len(arr), np.int64)
    hits = np.zeros(offsets[-1] - offsets[0] + 1, bool)   # + 1: an empty last string starts past the bytes
    hits[:-1] = test(np.frombuffer(data, np.uint8)[offsets[0]: offsets[-1]])
    starts, ends = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    return np.add.reduceat(hits, starts, dtype=np.int64) * (ends > starts)   # reduceat gives an empty string one byte


def _reachable(ws: Workspace, channel: str) -> dict[str, str]:
    """The `contactable` customers for ``channel`` → their RFM segment as text ("none" without one: what
    ``segment_of`` records): the contact rule and the segment in one look-up per targeted customer, once per
    workspace and contact column."""
    def build() -> dict[str, str]:
        ids = customers_by_id(ws).index[_contact_mask(ws, channel)]
        rfm = rfm_by_id(ws)
        if "segment" not in rfm:
            return dict.fromkeys(ids.tolist(), "none")
        import pyarrow.compute as pc
        codes, values = pd.factorize(rfm["segment"])   # a few segments: their texts shared, not one per customer
        text = np.array([str(v) for v in values] + ["none"], dtype=object)[codes]   # code -1 (missing): "none"
        # each id's row of the rfm table (its last, as a dict of the rows would keep), by Arrow's hash join
        back = pc.index_in(_arrow_text(ids), value_set=_arrow_text(rfm.index)[::-1])
        row = len(rfm) - 1 - pc.fill_null(back, len(rfm)).to_numpy(zero_copy_only=False)   # -1: no row
        return dict(zip(ids.tolist(), np.where(row >= 0, text[np.maximum(row, 0)], "none").tolist()))
    return cached(ws, f"reachable:{CHANNEL_CONTACT[channel]}", build)


def _contact_rules(ids: list[str], reach: dict[str, str], sets: dict) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """(the ids excluded by each reason, the eligible ids, their segments): each customer under the first of
    EXCLUSION_REASONS that removes them — no_contact: not in ``reach`` (contactable → segment), the others:
    in ``sets[reason]``; in the order of ``ids``. A rule is one membership pass over the ids (none for an empty set)."""
    n = len(ids)
    segs = np.array(list(map(reach.get, ids)), dtype=object)
    reason = np.zeros(n, np.int8)   # 0: eligible, k: the k-th reason
    for k in range(len(EXCLUSION_REASONS), 0, -1):   # the first rule last: where two remove a customer, it wins
        r = EXCLUSION_REASONS[k - 1]
        if r == "no_contact":
            reason[np.equal(segs, None)] = k
        elif sets.get(r):
            reason[np.fromiter(map(sets[r].__contains__, ids), bool, n)] = k
    arr = np.array(ids, dtype=object)
    excluded = {r: arr[reason == k].tolist() for k, r in enumerate(EXCLUSION_REASONS, 1)}
    return excluded, arr[reason == 0].tolist(), segs[reason == 0].tolist()


def recently_contacted(ws: Workspace, as_of, days: int) -> dict[str, str]:
    """customer → the latest marketing contact sent on or after ``as_of − (days − 1)`` (no upper bound:
    a message sent after the data's as-of date counts too)."""
    if days <= 0:
        return {}
    start = (pd.Timestamp(as_of).normalize() - pd.Timedelta(days=days - 1)).date().isoformat()
    out: dict[str, str] = {}
    for e in EventLog.of(ws).events(kind="contact"):
        p = e.payload
        sent = str(p.get("sent_at") or e.at[:10])[:10]
        if p.get("marketing", True) and sent >= start and sent > out.get(e.subject, ""):
            out[e.subject] = sent
    return out


def holdout_split(ids: list[str], segment_of: dict[str, str], share: float, seed: int) -> tuple[list[str], list[str]]:
    """(treated, control): round(share × n) held out, spread over the segments by largest
    remainder, drawn per segment by a shuffle seeded with (seed, segment). Deterministic."""
    if not 0 <= share < 1:
        raise ToolError(f"holdout share must be from 0 to below 1, got {share}")
    keys = list(map(segment_of.get, ids))
    names = {k: str(k or "none") for k in set(keys)}
    groups: dict[str, list[str]] = {}
    if len(names) == 1:   # one segment (a segment's campaign): no look-up per customer
        groups[next(iter(names.values()))] = list(ids)
    else:
        for i, k in zip(ids, keys):
            groups.setdefault(names[k], []).append(i)
    total = round(share * len(ids))
    quota = {g: int(share * len(m)) for g, m in groups.items()}
    rest = sorted(groups, key=lambda g: (-(share * len(groups[g]) - quota[g]), g))
    for g in rest[: max(0, total - sum(quota.values()))]:
        quota[g] += 1
    control: set[str] = set()
    for g, members in groups.items():
        if quota[g]:   # nobody held out of this segment: its draw changes nothing
            pool = sorted(members)
            _shuffle(pool, random.Random(f"{seed}|{g}"))
            control.update(pool[: quota[g]])
    return [i for i in ids if i not in control], [i for i in ids if i in control]


def _shuffle(pool: list, rng: random.Random) -> None:
    """``rng.shuffle(pool)``: the same draws (``_randbelow`` by ``getrandbits``) in one loop, without a call
    per member (a 150,000-customer segment)."""
    bits = rng.getrandbits
    for i in range(len(pool) - 1, 0, -1):
        n = i + 1
        k = n.bit_length()
        j = bits(k)
        while j >= n:
            j = bits(k)
        pool[i], pool[j] = pool[j], pool[i]


# =========================================================================== the campaign
@dataclass
class Campaign:
    """A campaign as its events tell it."""
    id: str
    created_at: str
    created_by: str
    payload: dict
    state: str = "drafted"
    approved: dict | None = None
    exports: list[dict] = field(default_factory=list)
    sent: dict | None = None
    cancelled: dict | None = None
    history: list[dict] = field(default_factory=list)

    def __getattr__(self, key):   # name, target, occasion, channel, treated, control, ... from the payload
        p = self.__dict__.get("payload") or {}
        if key in p:
            return p[key]
        raise AttributeError(key)

    def counts(self) -> dict:
        ex = self.payload.get("excluded") or {}
        excluded = {k: len(v) for k, v in ex.items()}
        return {"targeted": int(self.payload.get("targeted", 0)), "treated": len(self.payload.get("treated") or []),
                "control": len(self.payload.get("control") or []), "excluded": excluded,
                "excluded_total": sum(excluded.values()),
                "sent": len((self.sent or {}).get("customers") or [])}

    def summary(self) -> dict:
        p = self.payload
        return {"campaign_id": self.id, "name": p.get("name"), "state": self.state, "created_at": self.created_at,
                "created_by": self.created_by, "target": p.get("target"), "occasion": p.get("occasion"),
                "channel": p.get("channel"), "language": p.get("language"), "tone": p.get("tone"),
                "offer": p.get("offer"), "festival": p.get("festival"), "as_of": p.get("as_of"),
                "holdout_share": p.get("holdout_share"), "seed": p.get("seed"), "counts": self.counts(),
                "warnings": list(p.get("warnings") or []), "opt_out_sources": list(p.get("opt_out_sources") or []),
                "approved_by": (self.approved or {}).get("actor"), "approved_at": (self.approved or {}).get("at"),
                "edits": len((self.approved or {}).get("edits") or {}),
                "exports": [{k: e.get(k) for k in ("at", "actor", "format", "rows", "masked", "file")} for e in self.exports],
                "sent_at": (self.sent or {}).get("sent_at"), "cancel_reason": (self.cancelled or {}).get("reason"),
                "history": self.history}


#: the states each step may follow
_FROM = {"campaign_approved": ("drafted",), "campaign_exported": ("approved", "exported"), "campaign_sent": ("exported",),
         "campaign_cancelled": ("drafted", "approved", "exported")}


def _fold(events) -> dict[str, Campaign]:
    out: dict[str, Campaign] = {}
    for e in events:
        if e.kind == "campaign_created":
            out[e.subject] = Campaign(e.subject, e.at, e.actor, dict(e.payload))
        c = out.get(e.subject)
        if c is None:
            continue
        if e.kind != "campaign_created" and c.state not in _FROM.get(e.kind, ()):
            continue   # a step raced by another session (two approvals at once): the first one counts
        c.history.append({"at": e.at, "kind": e.kind, "actor": e.actor})
        if e.kind == "campaign_approved":
            c.state, c.approved = "approved", {**e.payload, "actor": e.actor, "at": e.at}
        elif e.kind == "campaign_exported":
            c.state = "exported"
            c.exports.append({**e.payload, "actor": e.actor, "at": e.at})
        elif e.kind == "campaign_sent":
            c.state, c.sent = "sent", {**e.payload, "actor": e.actor, "at": e.at}
        elif e.kind == "campaign_cancelled":
            c.state, c.cancelled = "cancelled", {**e.payload, "actor": e.actor, "at": e.at}
    return out


_KINDS = ("campaign_created", "campaign_approved", "campaign_exported", "campaign_sent", "campaign_cancelled")


def campaigns(ws: Workspace) -> list[Campaign]:
    """Every campaign of the workspace, the newest first."""
    return sorted(_fold(EventLog.of(ws).events(kind=_KINDS)).values(), key=lambda c: (c.created_at, c.id), reverse=True)


def campaign(ws: Workspace, campaign_id: str) -> Campaign:
    """One campaign (by its id, any case); unknown → a `ToolError` naming the latest ones."""
    cid = str(campaign_id or "").strip()
    every = campaigns(ws)   # the log's campaign events are kept between reads (knowledge.events)
    found = next((c for c in every if c.id == cid), None) or next((c for c in every if c.id.lower() == cid.lower()), None)
    if found is None:
        latest = ", ".join(c.id for c in every[:5])
        raise ToolError(f"no campaign {cid!r}" + (f" (latest: {latest})" if latest else " (no campaign yet)"))
    return found


def new_campaign_id(ws: Workspace, today: _dt.date | None = None, taken: set[str] | None = None) -> str:
    taken = {c.id for c in campaigns(ws)} if taken is None else taken
    day = (today or _dt.date.today()).strftime("%Y%m%d")
    while True:
        cid = f"cmp-{day}-{secrets.token_hex(2)}"
        if cid not in taken:
            return cid


def reserved_customers(others: list, as_of: pd.Timestamp) -> tuple[set, set]:
    """The customers other campaigns hold: (busy: treated by an approved or exported campaign,
    held: in the control group of one, or of one sent within CONTROL_KEPT_DAYS of ``as_of``)."""
    busy = {i for c in others if c.state in ("approved", "exported") for i in c.payload.get("treated") or []}
    kept_since = (as_of - pd.Timedelta(days=CONTROL_KEPT_DAYS)).date().isoformat()
    held = {i for c in others if c.state in ("approved", "exported")
            or (c.state == "sent" and str(c.sent.get("sent_at")) >= kept_since)
            for i in c.payload.get("control") or []}
    return busy, held


def create_campaign(ws: Workspace, *, actor: str, role: str, target_kind: str, target_spec: dict | None = None,
                    name: str | None = None, occasion: str | None = None, channel: str = "sms",
                    language: str = "auto", tone: str = "warm", offer: str | None = None,
                    festival: str | None = None, holdout_share: float = 0.10, seed: int | None = None,
                    cap_days: int = 7) -> Campaign:
    """Create a campaign in the drafted state (a manager or admin): target → contact rules →
    control group, all written in one ``campaign_created`` event."""
    require_manager(role, "创建活动", "create a campaign")
    from tools.campaigns_flow import check_offer, check_options
    occasion, channel, language, tone = check_options(occasion or DEFAULT_OCCASION.get(target_kind, "vip_thanks"),
                                                      channel, language, tone)
    target = resolve_target(ws, target_kind, target_spec)
    as_of = pd.Timestamp(ws.as_of()).normalize()
    warnings: list[str] = []
    offer_id = check_offer(ws, offer, occasion, festival, as_of) if offer else None
    if not target.ids:
        warnings.append("the target has no customer")
    optout, opt_sources = opted_out(ws)
    recent = recently_contacted(ws, as_of, cap_days) if is_marketing(occasion) else {}
    others = campaigns(ws)
    busy, held = reserved_customers(others, as_of)
    excluded, eligible, segments = _contact_rules(target.ids, _reachable(ws, channel),
                                                  {"opt_out": optout, "frequency_cap": recent,
                                                   "other_campaign": busy, "control_elsewhere": held})
    segment_of = dict(zip(eligible, segments))
    cid = new_campaign_id(ws, taken={c.id for c in others})
    if seed is None:
        seed = int(hashlib.sha256(cid.encode()).hexdigest()[:8], 16)
    treated, control = holdout_split(eligible, segment_of, float(holdout_share), int(seed))
    if target.ids and not eligible:
        warnings.append("every targeted customer is excluded by the contact rules: nobody to message")
    if eligible and not control and holdout_share > 0:
        warnings.append("too few eligible customers for a control group: the effect cannot be measured")
    payload = {
        "name": (name or "").strip() or f"{occasion} · {target.description_en}"[:80],
        "target": target.to_dict(), "occasion": occasion, "channel": channel, "language": language, "tone": tone,
        "offer": offer_id, "festival": festival, "seed": int(seed), "holdout_share": float(holdout_share),
        "as_of": as_of.date().isoformat(), "cap_days": int(cap_days), "targeted": len(target.ids),
        "treated": treated, "control": control, "segment_of": segment_of, "excluded": excluded,
        "opt_out_sources": opt_sources, "warnings": warnings}
    EventLog.of(ws).append("campaign_created", actor, cid, payload, keep=True)   # not parsed back below
    return campaign(ws, cid)
