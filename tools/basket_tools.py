"""Tools about products: what is bought together (association rules) and what to recommend.

Rules are mined at build time (artefacts rules_product, rules_category); an item with no rule
falls back to plain co-occurrence in the orders, with the same definitions (count, support,
confidence, lift).
"""
from __future__ import annotations

import pandas as pd

from knowledge.workspace import Workspace
from tools.context import (ToolContext, cached, context, customers_by_id, meta_provenance, orders_table,
                           resolve_customer_id, resolve_item, rounded, rules_table, top_n)
from tools.formatting import bullets, fmt_int, fmt_money, fmt_num, fmt_pct, who
from tools.results import fmt_date, plain, provenance
from tools.spec import EVERY_ROLE, Cue, Serve, ToolSpec, register

__all__ = ["bought_together", "recommend_products"]


# =========================================================================== bought_together
def bought_together(item: str, top: int = 10, *, ctx: ToolContext | None = None) -> dict:
    """What customers buy together with a product or a category (association rules: support,
    confidence, lift), strongest first.

    Args:
        item: a product name or a category, e.g. 龙井绿茶 or 绿茶
        top: how many items to list (default 10)
    """
    ctx = context(ctx)
    ws = ctx.ws
    top = top_n(top, 10)
    level, name = resolve_item(ws, item)
    from tools.association import bought_together as _bt
    rules = rules_table(ws, level)
    if rules is None:
        res = _bt(orders_table(ws), name, level=level, top=top)
    else:
        res = _bt(rules, name, level=level, top=top)
        if res.method == "none" or not res.items:  # no rule: plain co-occurrence in the orders
            res = _cooccurrence(ws, level, name, top) or res
    rows = []
    for r in res.items:
        rows.append({"item": str(r["item"]), "with": [str(a) for a in r.get("antecedents") or [name]],
                     "support": rounded(r.get("support"), 4), "confidence": rounded(r.get("confidence"), 4),
                     "lift": rounded(r.get("lift"), 3), "orders": r.get("count")})
    chart = None
    if rows:
        # the bars in the list's order, with the measure the list is ranked by (lift for rules,
        # orders together for plain co-occurrence)
        from tools.charts import bar_chart_json
        cdf = pd.DataFrame(rows)
        by_count = res.method != "rules" and cdf["orders"].notna().all()
        chart = (bar_chart_json(cdf, "item", "orders" if by_count else "lift", f"与「{name}」一起购买",
                                f"Bought with {name}", y_title="共同购买订单数 orders together" if by_count else "提升度 lift"))
    prov = res.provenance or f"tools.association.bought_together · {level}"
    if rules is not None:
        prov = meta_provenance(ws, f"rules_{level}", f"artefacts/rules_{level}") + " · " + prov
    return {"item": name, "level": level, "matched": list(res.matched)[:10], "method": res.method,
            "items": rows, "count": len(rows), "chart": chart, "as_of": fmt_date(ws.as_of()),
            "provenance": prov}


def _cooccurrence(ws: Workspace, level: str, name: str, top: int):
    """Companions by plain co-occurrence in the same order (cached baskets; the same definitions as
    `tools.association.bought_together`'s fallback: count, support, confidence, lift)."""
    from tools.association import BoughtTogether
    from tools.orders_index import companions, item_baskets
    col = "category" if level == "category" else "product_name"
    freq, n = item_baskets(ws, col)   # DuckDB over the order Parquet: the lines are not loaded
    matched = [name] if name in freq.index else [i for i in freq.index if name.lower() in str(i).lower()]
    if not matched:
        return None
    other, n_with = companions(ws, col, matched)
    other = other.sort_values(ascending=False, kind="stable")
    rows = []
    for it, c in other.items():
        conf = c / n_with
        rows.append({"item": it, "support": c / n, "confidence": conf, "lift": conf / (freq[it] / n), "count": int(c),
                     "antecedents": sorted(matched)[:5]})
    rows.sort(key=lambda r: (-r["count"], -r["lift"], r["item"]))
    prov = provenance("bought_together", {"baskets": int(n)}, item=name, level=level, method="co-occurrence",
                      matched=len(matched))
    return BoughtTogether(name, sorted(matched), "co-occurrence", rows[:top], prov)


def _render_together(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("items") or []
    item = r.get("item")
    if not rows:
        return (f"没有找到和「{item}」一起购买的明显规律。" if zh else f"No clear pattern of items bought together with \"{item}\".")
    lines = []
    for it in rows:
        if zh:
            lines.append(f"{it.get('item')}：置信度 {fmt_pct(it.get('confidence'))}，提升度 {fmt_num(it.get('lift'), 2)}"
                         + (f"，共同出现 {fmt_int(it.get('orders'))} 单" if it.get("orders") is not None else ""))
        else:
            lines.append(f"{it.get('item')}: confidence {fmt_pct(it.get('confidence'))}, lift {fmt_num(it.get('lift'), 2)}"
                         + (f", together in {fmt_int(it.get('orders'))} orders" if it.get("orders") is not None else ""))
    how = r.get("method")
    mixed = how == "rules" and any(len(it.get("with") or []) > 1 for it in rows)  # pair rules first, then the rest
    if zh:
        return (f"购买「{item}」的订单中，最常一起购买的是" + (("（按关联规则：单品规则优先，各按提升度排序）" if mixed else
                                                          "（按关联规则的提升度排序）") if how == "rules" else "（按共同出现次数）")
                + "：\n" + bullets(lines))
    return (f"Orders with \"{item}\" most often also contain" + (((" (association rules: pair rules first, each by lift)" if mixed
                                                                   else " (association rules, by lift)")) if how == "rules" else
                                                                  " (co-occurrence counts)") + ":\n" + bullets(lines))


register(ToolSpec(
    bought_together, order=8, roles=EVERY_ROLE, family="together", needs=("item",),
    serves=(Serve("together", None, 90), Serve("recommend", lambda f: not f.has_customer and bool(f.slots.get("item")), 10)),
    args=lambda f: {**f.top(), **f.copy(("item",))},
    exemplars=(
        '买该商品的人还会买什么', '该商品经常和什么一起买', '和该商品一起购买的商品', '该商品的关联商品', '该商品搭配什么卖得好', '购买该商品的客户同时买了什么', '该商品的连带购买',
        '该商品适合和什么做套餐', '关联规则', '哪些商品经常一起买', '购物篮分析结果', '该商品的交叉销售机会',
        'what do people buy together with this product', 'what goes with this product',
        'frequently bought with this product', 'products bought alongside this product',
        'what else do buyers of this product purchase', 'association rules for this product',
        'bundle ideas for this product', 'cross-sell for this product',
        'which items are often purchased together', 'market basket analysis',
    ),
    cues=(
        Cue(r"一起买|一起购买|一起下单|一起卖|一起销售|一起出现|经常一起|捆绑|一块买|同时购买|同时买|同时下单|搭配|连带|关联(商品|规则|购买)?|组合购买|套餐|"
            r"还会买|还(喜欢|爱|常)买|也买|还买了|顺便买|购物篮|bought together|buy together|purchased together|goes? with|along ?with|"
            r"alongside|frequently bought|bundle|basket|association rules?|also buy|also bought|paired with|"
            r"together with|cross[- ]sell(ing)? (for|with|of)", 0.22),
    ),
    render=_render_together, help_zh="一起购买的商品", help_en="products bought together",
    example_zh="买绿茶的人还会一起买什么?", example_en="What do people buy together with green tea?"))


# =========================================================================== recommend_products
def recommend_products(customer_id: str, top: int = 5, *, ctx: ToolContext | None = None) -> dict:
    """Products to recommend to one customer: consequents of association rules whose antecedents
    the customer bought, excluding what they already have (ranked by lift, then confidence);
    topped up with best sellers of the customer's favourite categories.

    Args:
        customer_id: the customer's id, e.g. C01023
        top: how many products (default 5)
    """
    ctx = context(ctx)
    ws = ctx.ws
    top = top_n(top, 5)
    cid = resolve_customer_id(ws, customer_id)
    from tools.orders_index import customer_orders, product_sales
    mine = customer_orders(ws, cid)
    bought = set(mine["product_name"].dropna().astype(str)) if "product_name" in mine else set()
    recs: list[dict] = []
    rules = rules_table(ws, "product")
    sources = []
    if rules is not None and len(rules) and bought:
        from tools.association import recommend_for_customer
        for r in recommend_for_customer(rules, bought, top=top):
            recs.append({"product": str(r["item"]), "because_bought": [str(x) for x in r.get("because", [])],
                         "confidence": rounded(r.get("confidence"), 4), "lift": rounded(r.get("lift"), 3),
                         "source": "rule"})
        sources.append(meta_provenance(ws, "rules_product", "artefacts/rules_product"))
    if len(recs) < top and "category" in mine:
        p = ws.table("products")
        sales = product_sales(ws)
        if sales is None:
            sales = cached(ws, "product_sales", lambda: orders_table(ws).groupby("product_name")["amount"].sum())
        fav = mine.groupby("category")["amount"].sum().sort_values(ascending=False).index.tolist()
        have = bought | {r["product"] for r in recs}
        added = 0
        for cat in fav:
            cands = p.loc[(p["category"] == cat) & ~p["name"].isin(have), "name"].astype(str).tolist()
            cands.sort(key=lambda n: (-float(sales.get(n, 0.0)), n))
            for n in cands[: top - len(recs)]:
                recs.append({"product": n, "because_bought": [str(cat)], "confidence": None, "lift": None,
                             "source": "best seller in a favourite category"})
                have.add(n)
                added += 1
            if len(recs) >= top:
                break
        if added:
            sources.append("orders: best sellers of the customer's favourite categories")
    prod = cached(ws, "products_by_name", lambda: ws.table("products").drop_duplicates("name").set_index("name"))
    for r in recs:
        if r["product"] in prod.index:
            row = prod.loc[r["product"]]
            r["price"] = rounded(row.get("price"), 2)
            r["category"] = plain(row.get("category"))
    return {"customer_id": cid, "name": plain(customers_by_id(ws).loc[cid].get("name")), "products": recs,
            "count": len(recs), "already_bought": len(bought), "as_of": fmt_date(ws.as_of()),
            "provenance": " + ".join(sources or ["no rule or category history"]) + f" · customer {cid}"}


def _render_recommend(r: dict, zh: bool, focus: dict) -> str:
    rows = r.get("products") or []
    if not rows:
        return (f"暂时没有可以推荐给 {who(r, zh)} 的商品。" if zh else f"No recommendation for {who(r, zh)} yet.")
    lines = []
    for p in rows:
        because = "、".join(p.get("because_bought") or []) if zh else ", ".join(p.get("because_bought") or [])
        if zh:
            lines.append(f"{p.get('product')}" + (f"（{p.get('category')}，{fmt_money(p.get('price'))}）" if p.get("price") is not None else "")
                         + (f"：因为买过 {because}" if because and p.get("lift") is not None else
                            f"：偏好品类 {because} 的热销品" if because else "")
                         + (f"，置信度 {fmt_pct(p.get('confidence'))}，提升度 {fmt_num(p.get('lift'), 2)}" if p.get("lift") is not None else ""))
        else:
            lines.append(f"{p.get('product')}" + (f" ({p.get('category')}, {fmt_money(p.get('price'))})" if p.get("price") is not None else "")
                         + (f": bought {because}" if because and p.get("lift") is not None else
                            f": best seller in favourite category {because}" if because else "")
                         + (f", confidence {fmt_pct(p.get('confidence'))}, lift {fmt_num(p.get('lift'), 2)}" if p.get("lift") is not None else ""))
    if zh:
        return f"推荐给 {who(r, zh)} 的 {fmt_int(len(rows))} 款商品：\n" + bullets(lines)
    return f"{fmt_int(len(rows))} products to recommend to {who(r, zh)}:\n" + bullets(lines)


register(ToolSpec(
    recommend_products, order=9, roles=EVERY_ROLE, family="recommend", customer="required",
    serves=(Serve("recommend", None, 90), Serve("together", lambda f: f.has_customer and not f.slots.get("item"), 10)),
    args=lambda f: f.top(),
    exemplars=(
        '给该客户推荐什么商品', '该客户可能喜欢什么', '向该客户推荐产品', '该客户下一步可能买什么', '给该客户推荐几款商品', '可以给该客户交叉销售什么', '该客户适合什么产品',
        '推荐给该客户的商品', 'what should we recommend to the customer', 'product recommendations for the customer',
        'what would the customer like', 'suggest products for the customer', 'what to upsell to the customer',
        'next best product for the customer', 'recommend something to the customer', '该客户可能还喜欢什么',
        'what else could we sell to the customer',
    ),
    cues=(
        Cue(r"推荐|recommend|recomend|reccomend|suggest|upsell|up-sell|cross[- ]?sell|交叉销售|可能喜欢|可能会买|下一步.{0,4}买|"
            r"(可能|会|还|应该|也)+.{0,2}(喜欢|想要|想买|需要)(什么|啥|哪些|点什么)|感兴趣|推(点|些|个|几个|一下|几款)(什么|啥)?|"
            r"卖(点|些)?(什么|啥)给|\binterested in\b|\bwhat else (can|could|should) we sell\b|"
            r"next best|适合.{0,4}(商品|产品)|what (else )?(would|might) .{0,20} (like|want|buy)", 0.2),
    ),
    render=_render_recommend, help_zh="商品推荐", help_en="product recommendations",
    example_zh="给 C01023 推荐什么商品?", example_en="What should we recommend to C01023?"))
