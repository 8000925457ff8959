"""Conditions on who a question means that its tool cannot apply: said in the answer, never dropped.

"给女性重要价值客户批量写生日短信": the batch draft takes a segment, a place and a churn risk, not
a gender; drafting for every 重要价值客户 without a word would answer another question. The router
finds these conditions as slots (a province or city, a gender, an age, a sales or acquisition
channel, a churn risk). For a tool over a group of customers, a condition the tool has no parameter
for is put on the route (``focus["unapplied"]``) and `unapplied_text` adds a sentence saying it was
not applied. A tool about one customer is left alone (the words describe that customer), and so is
a condition that is the question's own metric ("各省有流失风险的客户数"). Nothing here names a tool:
the parameters are read from each tool's signature.

>>> unapplied_text([{"kind": "gender", "value": "F"}], zh=True)
'\\n注意：「女性」（性别）这个条件未应用：这项功能不按性别筛选，以上结果未按它筛选。'
"""
from __future__ import annotations

import inspect
import typing

from tools.spec import ToolSpec

__all__ = ["CONDITIONS", "unapplied_conditions", "unapplied_text"]

#: slot → (the parameters any of which applies it, its name in zh, in en)
CONDITIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "province": (("province",), "省份", "province"),
    "city": (("city",), "城市", "city"),
    "gender": (("gender",), "性别", "gender"),
    "age_band": (("age_band", "age_min", "age_max", "born_from", "born_to"), "年龄", "age"),
    "age_range": (("age_band", "age_min", "age_max", "born_from", "born_to"), "年龄", "age"),
    "sales_channel": (("channel", "order_channel", "signup_channel"), "渠道", "channel"),
    "churn_risk": (("churn_risk", "min_probability"), "流失风险", "churn risk"),
    "silent_days": (("silent_days",), "多久没下单", "days without an order"),
    "no_order_from": (("no_order_from",), "期间没下单", "no order in a period"),
    "bought_product": (("bought_product",), "买过的商品", "a product bought"),
    "bought_category": (("bought_category",), "买过的品类", "a category bought"),
}
_RISK_WORDS = {"high": ("流失风险高", "high churn risk"), "at_risk": ("有流失风险", "at risk of churning")}
_CHURN_METRICS = ("at_risk_customers", "churn_probability")   # the churn risk is what they count


def _choices(hint) -> set | None:
    """The values a ``Literal`` parameter allows (inside ``X | None`` too), None for any other type."""
    if typing.get_origin(hint) is typing.Literal:
        return set(typing.get_args(hint))
    inner = [c for c in map(_choices, typing.get_args(hint)) if c is not None]
    return set().union(*inner) if inner else None


def _takes(fn, name: str, value) -> bool:
    """Whether parameter ``name`` of ``fn`` can hold ``value``: it exists, and a Literal lists the value
    (draft_care_batch's ``channel`` is the message's, sms / wechat / email, not 抖音)."""
    if name not in inspect.signature(fn).parameters:
        return False
    try:
        allowed = _choices(typing.get_type_hints(fn).get(name))
    except Exception:  # noqa: BLE001 - an annotation that does not resolve: the name is all we know
        return True
    return allowed is None or str(value) in {str(a) for a in allowed}


def unapplied_conditions(spec: ToolSpec, slots: dict, args: dict) -> list[dict]:
    """The conditions of the question (``slots``) that ``spec``'s tool has no parameter for."""
    if spec.customer == "required" or "customer_id" in args:
        return []
    out = []
    for kind, (carriers, _, _) in CONDITIONS.items():
        value = slots.get(kind)
        if value in (None, "", ()) or any(_takes(spec.fn, c, value) for c in carriers):
            continue
        if kind == "churn_risk" and str(args.get("metric")) in _CHURN_METRICS:
            continue
        if kind == "age_band" and slots.get("age_range"):
            continue   # one age condition
        out.append({"kind": kind, "value": value})
    return out


def _label(kind: str, value, zh: bool) -> str:
    if kind == "gender":
        return ("女性" if value == "F" else "男性") if zh else ("female" if value == "F" else "male")
    if kind == "churn_risk":
        return _RISK_WORDS.get(value, (value, value))[0 if zh else 1]
    if kind == "age_range":
        what, lo, hi = value
        if what == "birth_year":
            return f"{lo}–{hi} 年出生" if zh else f"born {lo}–{hi}"
        return (f"{lo}–{hi} 岁" if zh else f"aged {lo}–{hi}") if hi < 129 else (f"{lo} 岁以上" if zh else f"aged {lo}+")
    if kind == "no_order_from":
        return f"{value} 起的那段时间没下单" if zh else f"no order in the period from {value}"
    if kind == "silent_days":
        return f"超过 {value} 天没下单" if zh else f"no order in {value} days"
    return str(value)


def unapplied_text(conditions: list[dict], zh: bool) -> str:
    """One sentence naming the conditions that were not applied ("" for none)."""
    if not conditions:
        return ""
    named = [(_label(c["kind"], c["value"], zh), CONDITIONS[c["kind"]][1 if zh else 2]) for c in conditions]
    if zh:
        what = "、".join(f"「{v}」（{k}）" for v, k in named)
        dims = "、".join(dict.fromkeys(k for _, k in named))
        return f"\n注意：{what}这个条件未应用：这项功能不按{dims}筛选，以上结果未按它筛选。"
    what = ", ".join(f'"{v}" ({k})' for v, k in named)
    dims = " or ".join(dict.fromkeys(k for _, k in named))
    return f"\nNote: the condition {what} was not applied: this tool does not filter by {dims}, so the result above is not filtered by it."
