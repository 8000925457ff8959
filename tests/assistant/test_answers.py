"""Customer data is data in every answer: names, complaint text, product names and resolutions are shown
as written — no HTML, image, link, auto-link or emphasis from them — checked by rendering the answer's
Markdown (markdown-it, CommonMark with raw HTML on, as a chat renders it) for every tool's renderer and
the other answer texts, with the same escaping (`tools.formatting.md_text`) the customer card uses."""
from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from assistant import Assistant, answers
from tools.formatting import md_answer, md_text, md_unescape, plain_text
from tools.registry import get_spec, tool_names

BAIT = "http://127.0.0.1:9"
PAYLOAD = (f" <img src={BAIT}/x> [click]({BAIT}/y) ![i]({BAIT}/z) <{BAIT}/a> www.example.com mail@example.com "
           "182****3495 j***@x.com **b** _i_ `c` <script>alert(1)</script> &lt;img src=q&gt; |t| $$x$$")
MD = MarkdownIt("commonmark", {"html": True})


def assert_shows_as_text(answer: str) -> None:
    """The rendered answer holds no element from the data and no link, and the masks show as masks."""
    html = MD.render(answer)
    for tag in ("<img", "<a ", "<script", "<strong", "<em", "<code", "<h1", "<h2", "<h3", "<table"):
        assert tag not in html, (tag, answer)
    # GitHub-flavoured auto-links (http://…, www.…, a@b.c), which CommonMark leaves as text, are escaped too
    text = md_unescape(answer)
    assert not re.search(r"(?<!\\)(?:https?|ftp)://|(?<![\\\w])www\.|(?<!\\)@", answer), answer
    if "182****3495" in text:
        assert "182****3495" in html
    if "j***@x.com" in text:
        assert "j***@x.com" in html


def poisoned(obj, payload: str = PAYLOAD):
    """Every string of a tool result with markup appended (ids, names, texts, products, labels …)."""
    if isinstance(obj, str):
        return obj + payload
    if isinstance(obj, dict):
        return {k: poisoned(v, payload) for k, v in obj.items()}
    if isinstance(obj, list):
        return [poisoned(v, payload) for v in obj]
    return obj


@pytest.fixture(scope="module")
def results(demo_settings, demo_ws) -> dict:
    """One real result per tool: each spec's example question, with a real customer id."""
    cid = str(demo_ws.artefact("rfm")["customer_id"].iloc[3])
    fb = demo_ws.table("feedback")
    complainer = str(fb.loc[fb["kind"].eq("complaint") & fb["customer_id"].notna(), "customer_id"].iloc[0])
    # a complaint already resolved in the file: marking it resolved changes no other test's open counts
    done = str(fb.loc[fb["kind"].eq("complaint") & fb["status"].eq("resolved"), "feedback_id"].iloc[0])
    out = {}
    a = Assistant(settings=demo_settings, role="admin", audit=False)
    for name in tool_names():
        sp = get_spec(name)
        for q in (sp.example_en, sp.example_zh):
            if not q:
                continue
            q = re.sub(r"C\d{5}", complainer if name == "draft_care_message" else cid, q)
            q = re.sub(r"FB\d{12}", done, q)
            a.reset()
            calls = [c for c in a.ask(q)["tool_calls"] if c["tool"] == name and "error" not in c["result"]]
            if calls:
                out[name] = calls[0]["result"]
                break
    return out


def test_every_tool_has_a_result_to_poison(results):
    missing = set(tool_names()) - set(results)
    assert not missing, missing


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_renderer_shows_customer_text_as_text(results, language):
    for name, result in results.items():
        answer = answers.render(name, poisoned(result), language)
        assert_shows_as_text(answer)
        assert "\\<img src" in answer or name in ("query_metrics", "segment_summary"), (name, answer[:300])


def test_a_customer_named_with_an_image_tag_and_a_complaint_with_a_link(results):
    r = dict(results["customer_profile"])
    r["name"] = f"<img src={BAIT}/x>"
    r["phone"], r["email"] = "182****3495", "j***@example.com"
    r["open_complaints"] = [{"date": "2026-10-01", "text": f"太慢了 [点这里]({BAIT}/y) 和 {BAIT}/z"}]
    for lang in ("zh", "en"):
        answer = answers.render("customer_profile", r, lang)
        html = MD.render(answer)
        assert f"&lt;img src={BAIT}/x&gt;" in html and "<img" not in html and "<a " not in html
        assert "[点这里]" in html and "182****3495" in html and "j***@example.com" in html
        assert md_unescape(answer).count(f"<img src={BAIT}/x>") == 1


def test_the_other_answer_texts_quote_data_as_text():
    cands = [{"customer_id": "C1", "name": "王伟" + PAYLOAD, "city": "杭州" + PAYLOAD, "last_order": "2026-01-01",
              "phone": "182****3495"},
             {"customer_id": "C2", "name": "王伟", "city": "宁波", "last_order": "2026-02-01", "phone": "139****1234"}]
    for lang in ("zh", "en"):
        for text in (answers.clarify_text(cands, lang, "王伟" + PAYLOAD), answers.clarify_text(cands, lang, "", fuzzy=True),
                     answers.error_text("t", "no customer named" + PAYLOAD, lang),
                     answers.unsupported_text("退货率" + PAYLOAD, lang),
                     answers.unknown_customer_text("C99999", "no customer C99999 (did you mean C1<img src=x>?)", lang)):
            assert_shows_as_text(text)
        assert "182****3495" in MD.render(answers.clarify_text(cands, lang, "王伟"))


def test_one_escaping_function_for_the_card_and_the_answers():
    from assistant import card
    from tools import formatting
    assert card.md_text is formatting.md_text
    for s in ("王伟", "vip_thanks", "Can't Lose Them", "2026-11-01", "C01023", "绿茶 500g", "very high"):
        assert md_text(s) == s   # codes and ordinary names are not changed (renderers look them up)
    for s in (PAYLOAD.strip(), "- Bob", "1. Mallory", "===", "a\\b"):
        assert md_unescape(md_text(s)) == re.sub(r"\s+", " ", s)


def test_an_llm_answer_keeps_its_markdown_but_not_images_links_or_html():
    out = md_answer(f"**C1** spent ¥1,234.00.\n- ![x]({BAIT}/i.png)\n- [see]({BAIT}/y) <img src={BAIT}/x> 138****5678")
    html = MD.render(out)
    assert "<strong>C1</strong>" in html and "<li>" in html
    assert "<img" not in html and "<a " not in html and "138****5678" in html and "://" not in out.replace("\\:", "")


def test_a_name_or_product_in_a_draft_is_its_words_only():
    assert plain_text(f"<img src={BAIT}/x>王芳") == "王芳"
    assert plain_text(f"[绿茶]({BAIT}/y) **特价** `x`") == "绿茶 特价 x"
    assert plain_text(f"Linda <b>Clark</b> {BAIT}/z") == "Linda Clark"
    assert plain_text("&lt;script&gt;alert(1)&lt;/script&gt;") == "alert(1)"
