"""Who a question means among a group of customers by who they are: place, gender, age, birth
years, the channel they signed up on, how long since their last order, what they bought (or did not)
in a period, whether they ordered at all in a period. One definition for the tools that act on a group (the batch
draft's segment), matched as the metric filters match their values (tools.kpi.match_values).

>>> who = CustomerConditions(gender="F", age_max=29)
>>> who.words(zh=True)
['女性', '29 岁及以下']
"""
from __future__ import annotations

import inspect
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from knowledge.errors import GuanxiError
from tools.context import ToolError, match_place

__all__ = ["CustomerConditions", "CONDITION_HELP", "BOUGHT_KEYS", "ORDER_CONDITIONS", "age_args", "who_args",
           "keep_in_workspace", "lapsed_in_period", "ordered_in_period", "bought_in_period", "bought_inherit", "conditions_documented"]

#: the parameters of a condition on what a customer bought
BOUGHT_KEYS = ("bought_product", "bought_category", "bought_from", "bought_to", "not_bought")
#: the conditions on a customer's orders (silence, purchases): a tool about complaints, contacts or dates
#: leaves them out of who_args (no order is not no complaint)
ORDER_CONDITIONS = ("silent_days", "no_order_from", "no_order_to", "ordered_from", "ordered_to", *BOUGHT_KEYS)


@dataclass(frozen=True)
class CustomerConditions:
    """Conditions on the customers table; None = not asked. Ages are full years at the as-of date;
    ``silent_days`` N: ordered before, no order in the N days before the as-of date (RFM recency > N, as
    the lapsed_customers metric counts them); ``no_order_from`` … ``no_order_to`` (days, both included): ordered
    before the first, none in the period ("上个季度没下单的客户"; orders after it do not count), as
    lapsed_customers over that period counts them; ``ordered_from`` … ``ordered_to`` (days, both included): any
    order in the period ("上个月下过单的客户"), its opposite; ``bought_product`` (every product whose name holds the
    word, as query_metrics' product) or ``bought_category``: an order line of it from ``bought_from`` to
    ``bought_to`` (days, both included; all time when neither), and with ``not_bought``: a line of it before
    bought_from and none in the period ("上个月没买咖啡的客户"), or without a period, an order but never a line
    of it ("从来没买过咖啡的客户")."""
    province: str | None = None
    city: str | None = None
    gender: str | None = None
    age_band: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    born_from: int | None = None
    born_to: int | None = None
    signup_channel: str | None = None
    silent_days: int | None = None
    no_order_from: str | None = None
    no_order_to: str | None = None
    ordered_from: str | None = None
    ordered_to: str | None = None
    bought_product: str | None = None
    bought_category: str | None = None
    bought_from: str | None = None
    bought_to: str | None = None
    not_bought: bool = False

    def __post_init__(self):   # "false" from a model's JSON is not a yes
        v = self.not_bought
        object.__setattr__(self, "not_bought", str(v).strip().lower() in ("true", "1", "yes") if isinstance(v, str) else bool(v))

    def asked(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "") and v is not False}

    def keep(self, customers: pd.DataFrame, as_of, recency_days: pd.Series | None = None,
             lapsed_in_period: np.ndarray | None = None, bought: np.ndarray | None = None,
             ordered: np.ndarray | None = None) -> np.ndarray:
        """Which rows of ``customers`` meet every condition (a missing value meets none);
        ``recency_days`` (aligned with the rows, NaN = never ordered) is needed for silent_days,
        ``lapsed_in_period`` (aligned booleans: ordered before no_order_from, none in the period) for no_order_from,
        ``bought`` (aligned booleans, `bought_in_period`) for the bought conditions and ``ordered`` (aligned
        booleans, `ordered_in_period`) for ordered_from."""
        from tools.kpi import age_band, full_years, match_values
        keep = np.ones(len(customers), dtype=bool)
        asked = self.asked()
        if "silent_days" in asked:
            days = int(asked["silent_days"])
            if days < 1:
                raise ToolError(f"silent_days must be a number of days ≥ 1, got {asked['silent_days']!r}")
            if recency_days is None:
                raise ToolError("silent_days needs each customer's days since the last order (the RFM table)")
            keep &= (pd.to_numeric(recency_days, errors="coerce") > days).to_numpy()
        if "no_order_from" in asked or "no_order_to" in asked:
            if "no_order_from" not in asked:
                raise ToolError("no_order_to needs no_order_from (the first day of the period with no order)")
            if lapsed_in_period is None:
                raise ToolError("no_order_from needs each customer's orders before and in the period")
            keep &= np.asarray(lapsed_in_period, dtype=bool)
        if "ordered_from" in asked or "ordered_to" in asked:
            if "ordered_from" not in asked:
                raise ToolError("ordered_to needs ordered_from (the first day of the period with an order)")
            if ordered is None:
                raise ToolError("ordered_from needs each customer's orders in the period")
            keep &= np.asarray(ordered, dtype=bool)
        if any(k in asked for k in BOUGHT_KEYS):
            if bought is None:
                raise ToolError("bought_product / bought_category need each customer's order lines")
            keep &= np.asarray(bought, dtype=bool)
        for col in ("province", "city"):
            if col in asked:
                keep &= match_place(customers[col], asked[col]).to_numpy()
        for key, col in (("gender", "gender"), ("signup_channel", "channel"), ("age_band", None)):
            if key not in asked:
                continue
            labels = (age_band(customers["birthday"], as_of) if key == "age_band" else
                      self._column(customers, col).astype(object).where(customers[col].notna(), "").astype(str))
            try:
                wanted = match_values(col or "age_band", asked[key], [v for v in labels.unique() if v])
            except GuanxiError as e:
                raise ToolError(str(e)) from None
            keep &= labels.isin(wanted).to_numpy()
        for lo, hi, value in (("age_min", "age_max", lambda: full_years(self._column(customers, "birthday"), as_of)),
                              ("born_from", "born_to", lambda: self._birth_years(customers))):
            if lo in asked or hi in asked:
                v = value()
                keep &= (v.notna() & v.ge(asked.get(lo, -np.inf)) & v.le(asked.get(hi, np.inf))).to_numpy()
        return keep

    @staticmethod
    def _column(customers: pd.DataFrame, col: str) -> pd.Series:
        if col not in customers.columns:
            raise ToolError(f"the customers table has no column {col}")
        return customers[col]

    def _birth_years(self, customers: pd.DataFrame) -> pd.Series:
        b = self._column(customers, "birthday")
        return (b if pd.api.types.is_datetime64_any_dtype(b) else pd.to_datetime(b, errors="coerce", format="mixed")).dt.year

    def words(self, zh: bool) -> list[str]:
        """The conditions as a person says them ("女性", "29 岁及以下", "抖音渠道注册")."""
        a, out = self.asked(), []
        out += [a[k] for k in ("province", "city") if k in a] if zh else [f"in {a[k]}" for k in ("province", "city") if k in a]
        if "gender" in a:
            female = str(a["gender"]).upper() == "F"
            out.append(("女性" if female else "男性") if zh else ("female" if female else "male"))
        if "age_band" in a:
            out.append(f"{a['age_band']} 岁" if zh else f"aged {a['age_band']}")
        lo, hi = a.get("age_min") or None, a.get("age_max")   # "30岁以下" is ages 0-29: no lower bound said
        if lo is not None or hi is not None:
            out.append((f"{lo}-{hi} 岁" if zh else f"aged {lo}-{hi}") if lo is not None and hi is not None else
                       (f"{lo} 岁及以上" if zh else f"aged {lo} or over") if lo is not None else
                       (f"{hi} 岁及以下" if zh else f"aged {hi} or under"))
        lo, hi = a.get("born_from"), a.get("born_to")
        if lo is not None or hi is not None:
            out.append((f"{lo or ''}-{hi or ''} 年出生" if zh else f"born {lo or ''}-{hi or ''}"))
        if "signup_channel" in a:
            out.append(f"{a['signup_channel']}渠道注册" if zh else f"signed up on {a['signup_channel']}")
        if "silent_days" in a:
            out.append(f"超过 {a['silent_days']} 天没有下单" if zh else f"no order in the last {a['silent_days']} days")
        if "no_order_from" in a:
            end = a.get("no_order_to") or ("今天" if zh else "today")
            out.append(f"{a['no_order_from']} 至 {end} 没有下单（之前下过单）" if zh else
                       f"no order from {a['no_order_from']} to {end} (ordered before)")
        if "ordered_from" in a:
            end = a.get("ordered_to") or ("今天" if zh else "today")
            out.append(f"{a['ordered_from']} 至 {end} 下过单" if zh else f"ordered from {a['ordered_from']} to {end}")
        if a.get("bought_product") or a.get("bought_category"):
            out.append(self._bought_words(a, zh))
        return out

    @staticmethod
    def _bought_words(a: dict, zh: bool) -> str:
        """"2026-10-01 至 2026-10-31 买过名称含「绿茶」的商品", "bought 咖啡 (category) before 2026-10-01, not in …"."""
        cat = a.get("bought_category")
        what = (f"「{cat}」品类的商品" if cat else f"名称含「{a['bought_product']}」的商品") if zh else \
               (f"{cat} (category)" if cat else f"a product named like {a['bought_product']}")
        lo, hi = a.get("bought_from"), a.get("bought_to") or ("今天" if zh else "today")
        if a.get("not_bought") and lo:
            return (f"{lo} 之前买过{what}、{lo} 至 {hi} 没有再买" if zh else
                    f"bought {what} before {lo} but did not buy it from {lo} to {hi}")
        if a.get("not_bought"):
            return f"下过单但从来没有买过{what}" if zh else f"ordered but never bought {what}"
        if lo or a.get("bought_to"):
            lo = lo or ("最早" if zh else "the first order")
            return f"{lo} 至 {hi} 买过{what}" if zh else f"bought {what} from {lo} to {hi}"
        return f"买过{what}" if zh else f"bought {what}"


#: how a tool's docstring says each condition parameter (one wording for every tool that takes them)
CONDITION_HELP = {
    "province": "only customers in this province, e.g. 浙江省",
    "city": "only customers in this city, e.g. 杭州市",
    "gender": "only female (F) or male (M) customers",
    "age_band": "only customers of this age band (full years at the as-of date)",
    "age_min": 'only customers at least this old, e.g. 40 for "40岁以上"',
    "age_max": 'only customers at most this old, e.g. 29 for "30岁以下"',
    "born_from": 'only customers born in or after this year, e.g. 1990 for "90后"',
    "born_to": 'only customers born in or before this year, e.g. 1999 for "90后"',
    "signup_channel": "only customers who signed up on this channel (customers.channel), e.g. 抖音",
    "silent_days": 'only customers with no order in the last N days who ordered before, e.g. 90 for "超过90天没下单的"',
    "no_order_from": 'only customers who ordered before this day and not from it to no_order_to, YYYY-MM-DD, '
                     'e.g. the first day of last quarter for "上个季度没下单的"',
    "no_order_to": "with no_order_from, the period's last day (included), YYYY-MM-DD; default up to the as-of date",
    "ordered_from": 'only customers with an order (of anything) from this day to ordered_to, YYYY-MM-DD, e.g. '
                    'the first day of last month for "上个月下过单的"; for an item use bought_product / bought_category',
    "ordered_to": "with ordered_from, the period's last day (included), YYYY-MM-DD; default up to the as-of date",
    "bought_product": 'only customers who bought a product whose name contains this word, e.g. 绿茶 for "买过绿茶的"',
    "bought_category": 'only customers who bought in this product category, e.g. 咖啡',
    "bought_from": 'with bought_product / bought_category: the purchase from this day, YYYY-MM-DD (e.g. the first '
                   'day of last month for "上个月买过绿茶的"); default all time',
    "bought_to": "with bought_from: the period's last day (included), YYYY-MM-DD; default up to the as-of date",
    "not_bought": 'instead those who did not buy it: with bought_from, bought it before and not in the period '
                  '(true for "上个月没买咖啡的"); without, ordered but never bought it ("从来没买过咖啡的")',
}


def conditions_documented(fn):
    """Add to ``fn``'s docstring (its Args section, which must come last) the condition parameters it
    takes and does not describe itself, in the words of `CONDITION_HELP`."""
    doc, params = fn.__doc__ or "", inspect.signature(fn).parameters
    missing = [k for k in CONDITION_HELP if k in params and f"\n        {k}:" not in doc]
    if missing:
        fn.__doc__ = doc.rstrip() + "".join(f"\n        {k}: {CONDITION_HELP[k]}" for k in missing) + "\n    "
    return fn


def keep_in_workspace(ws, conds: CustomerConditions, ids: pd.Index) -> np.ndarray:
    """Which of the customers ``ids`` meet ``conds`` in the workspace (its customers table, and its
    RFM recency for silent_days)."""
    from tools.context import customers_by_id, rfm_by_id
    asked = conds.asked()
    recency = rfm_by_id(ws)["recency_days"].reindex(ids) if asked.get("silent_days") else None
    lapsed = lapsed_in_period(ws, asked["no_order_from"], asked.get("no_order_to"), ids) if asked.get("no_order_from") else None
    bought = bought_in_period(ws, asked, ids) if any(k in asked for k in BOUGHT_KEYS) else None
    ordered = ordered_in_period(ws, asked["ordered_from"], asked.get("ordered_to"), ids) if asked.get("ordered_from") else None
    return conds.keep(customers_by_id(ws).reindex(ids), ws.as_of(), recency_days=recency, lapsed_in_period=lapsed,
                      bought=bought, ordered=ordered)


def period_window(ws, first_day, last_day, names: tuple[str, str]) -> tuple[pd.Timestamp | None, pd.Timestamp]:
    """[start, end) of the days ``first_day`` to ``last_day`` (included; no first day: from the start; no last
    day: up to the as-of date); a bad date or a reversed period is an error naming the arguments ``names``."""
    try:
        a = pd.Timestamp(first_day).normalize() if first_day else None
        b = min(pd.Timestamp(last_day).normalize() + pd.Timedelta(days=1), ws.as_of()) if last_day else ws.as_of()
    except (ValueError, TypeError):
        raise ToolError(f"{names[0]} / {names[1]} must be dates YYYY-MM-DD, got {first_day!r} / {last_day!r}") from None
    if a is not None and b <= a:
        raise ToolError(f"{names[1]} ({last_day}) is before {names[0]} ({first_day})")
    return a, b


def lapsed_in_period(ws, first_day, last_day, ids: pd.Index) -> np.ndarray:
    """Which of ``ids`` ordered before ``first_day`` and not from it to ``last_day`` (included; None = up to
    the as-of date): the customers lapsed_customers counts over that period."""
    from tools.orders_index import period_totals
    a, b = period_window(ws, first_day, last_day, ("no_order_from", "no_order_to"))
    before, _ = period_totals(ws, None, a)
    inside, _ = period_totals(ws, a, b)
    ids = pd.Index(ids).astype(str)
    return (ids.isin(before.index) & ~ids.isin(inside.index))


def ordered_in_period(ws, first_day, last_day, ids: pd.Index) -> np.ndarray:
    """Which of ``ids`` have an order from ``first_day`` to ``last_day`` (included; None = up to the as-of
    date): the customers the customers metric counts over that period."""
    from tools.orders_index import period_totals
    inside, _ = period_totals(ws, *period_window(ws, first_day, last_day, ("ordered_from", "ordered_to")))
    return pd.Index(ids).astype(str).isin(inside.index)


def bought_in_period(ws, asked: dict, ids: pd.Index) -> np.ndarray:
    """Which of ``ids`` meet the bought conditions of ``asked`` (`CustomerConditions.asked`): an order line of
    the product word / category in the period (all time when no period), or with not_bought, one before
    bought_from and none in the period (without a period: an order, none of it ever). A word that names
    nothing is an error, not an empty list."""
    from tools.context import catalogue
    from tools.kpi import match_values
    from tools.orders_index import buyers_of
    word = asked.get("bought_product") or asked.get("bought_category")
    if not word or (asked.get("bought_product") and asked.get("bought_category")):
        raise ToolError("name one of bought_product (a word in product names) or bought_category")
    dim, col = ("category", "category") if asked.get("bought_category") else ("product", "product_name")
    known = catalogue(ws)["categories" if dim == "category" else "products"]
    try:
        names = match_values(dim, word, known)
    except GuanxiError:
        shown = "、".join(catalogue(ws)["categories"])
        what = f"no product category is {word!r}" if dim == "category" else f"no product name contains {word!r}"
        raise ToolError(f"{what}, so nobody can be listed as having bought it (没有{'品类' if dim == 'category' else '商品'}"
                        f"与「{word}」相符); the categories are: {shown}") from None
    a, b = period_window(ws, asked.get("bought_from"), asked.get("bought_to"), ("bought_from", "bought_to"))
    ids = pd.Index(ids).astype(str)
    inside = ids.isin(buyers_of(ws, col, names, a, b))
    if not asked.get("not_bought"):
        return inside
    if a is None:   # never bought it: ordered something, never this
        from tools.orders_index import period_totals
        return ids.isin(period_totals(ws, None, b)[0].index) & ~inside
    return ids.isin(buyers_of(ws, col, names, None, a)) & ~inside


def age_args(slots: dict) -> dict:
    """The age arguments of a question's slots: the band, or age_min/age_max ("30岁以下": 0-29;
    "30岁以上": age_min 30, no upper bound) or born_from/born_to ("90后": 1990-1999)."""
    out = {"age_band": slots["age_band"]} if slots.get("age_band") else {}
    if slots.get("age_range"):
        kind, lo, hi = slots["age_range"]
        out["age_min" if kind == "age" else "born_from"] = lo
        if not (kind == "age" and hi >= 129):
            out["age_max" if kind == "age" else "born_to"] = hi
    return out


def who_args(frame) -> dict:
    """The CustomerConditions arguments of a routed question (a tools.spec frame): gender, age, the
    channel named as the customers' own ("抖音来的客户": signup_channel) and the `ORDER_CONDITIONS`."""
    s = frame.slots
    out = {"gender": s["gender"]} if s.get("gender") else {}
    out.update(age_args(s))
    if s.get("sales_channel"):
        out["signup_channel"] = s["sales_channel"]
    for k in ORDER_CONDITIONS:
        if s.get(k):
            out[k] = s[k]
    return out


_THOSE = re.compile(r"那些|这些|他们|她们|其中|里面|当中|\b(them|those|these|among)\b", re.I)   # the group just shown


def bought_inherit(args: dict, new: dict, frame) -> None:
    """A follow-up to the customers who bought an item (a tools.spec inherit): "那上个季度呢" is the purchase's
    new period, not one to rank spend in; "那红茶呢" replaces the item bought; a silence of the question's own
    ("哪些客户超过90天没下单了") replaces the purchase: a new question about orders, not those buyers narrowed
    (they cannot be silent since they bought), unless it speaks of them ("这些人里…"); the same for the
    customers who ordered in a period ("上个月下过单的客户")."""
    if args.get("ordered_from"):   # "上个月下过单的客户" then "那上个季度呢": the orders' new period
        if (new.get("silent_days") or new.get("no_order_from")) and not _THOSE.search(frame.q):
            args.pop("ordered_from", None), args.pop("ordered_to", None)
        elif new.get("date_from"):
            args["ordered_from"], args["ordered_to"] = new.pop("date_from"), new.pop("date_to", None)
            args.pop("date_from", None), args.pop("date_to", None)
    if not (args.get("bought_product") or args.get("bought_category")):
        return
    if (new.get("silent_days") or new.get("no_order_from")) and not _THOSE.search(frame.q):
        for k in BOUGHT_KEYS:
            args.pop(k, None)
        return
    if new.get("date_from"):
        args["bought_from"] = new.pop("date_from")
        args["bought_to"] = new.pop("date_to", None)
        args.pop("date_from", None), args.pop("date_to", None)
    item = frame.slots.get("item")
    if item:
        args.pop("bought_product", None), args.pop("bought_category", None)
        categories = frame.vocab.categories if frame.vocab is not None else ()
        new["bought_category" if item in categories else "bought_product"] = item
