"""The tool specs pin the structure: every tool has exemplars, a renderer for both languages, help
text and eval questions; a tool registered from outside the package is routed, answered and
audited like a built-in one."""
from __future__ import annotations

import json
import re

import pytest

from knowledge.text import has_cjk
from tools import registry
from tools.spec import ToolSpec, specs

BUILTIN = [s for s in specs() if s.order < 1000]


def _eval_templates():
    from evals.make_questions import load_templates
    return load_templates()


def test_there_is_one_spec_per_tool_and_no_other_list():
    assert [s.name for s in BUILTIN] == registry.tool_names()[:len(BUILTIN)]
    assert len({s.name for s in BUILTIN}) == len(BUILTIN) == 25


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.name)
def test_every_tool_has_exemplars_in_both_languages(spec):
    assert len(spec.exemplars_zh) >= 2 and len(spec.exemplars_en) >= 2, spec.name
    assert spec.help_zh and spec.help_en and spec.example_zh and spec.example_en
    assert has_cjk(spec.example_zh) and not has_cjk(spec.help_en)


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.name)
def test_every_tool_has_eval_questions_in_both_languages(spec):
    langs = {t["lang"] for t in _eval_templates()
             if any((turn.get("expect") or {}).get("tool") == spec.name for turn in t["turns"])}
    assert {"zh", "en"} <= langs, spec.name


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.name)
def test_every_tool_has_a_renderer_for_both_languages(spec, demo_settings):
    """Each renderer writes a real result in Chinese and in English (from the eval question's call)."""
    from assistant import Assistant
    from evals.make_questions import build_cases
    from knowledge.workspace import Workspace
    assert callable(spec.render), spec.name
    cases = [c for c in build_cases(Workspace(demo_settings.workspace))
             if len(c["turns"]) == 1 and c["turns"][0]["expect"].get("tool") == spec.name]
    assert cases, spec.name
    a = Assistant(settings=demo_settings, role="admin")
    out = a.ask(cases[0]["turns"][0]["question"])
    call = next(c for c in out["tool_calls"] if c["tool"] == spec.name)
    assert "error" not in call["result"], call["result"]
    zh, en = spec.render(call["result"], True, {}), spec.render(call["result"], False, {})
    assert has_cjk(zh) and zh != en
    english = re.sub(r"[\u3400-\u9fff（），、：；。「」]+", " ", en)  # names and segment names may be Chinese
    assert len(re.findall(r"[A-Za-z]{3,}", english)) >= 2, en


def test_specs_drive_roles_schemas_and_langchain(demo_settings):
    from tools.context import ToolContext
    for s in BUILTIN:
        assert set(registry.roles_of(s.name)) == set(s.roles)
    names = {t.name for t in registry.langchain_tools(ToolContext(demo_settings, role="manager"))}
    assert names == {s.name for s in specs()}


# --------------------------------------------------------------------------- a plugin tool
def loyalty_points(customer_id: str, *, ctx=None) -> dict:
    """A customer's loyalty points: one point per whole yuan spent.

    Args:
        customer_id: the customer's id, e.g. C01023
    """
    from tools.context import context, resolve_customer_id, rfm_by_id
    ctx = context(ctx)
    cid = resolve_customer_id(ctx.ws, customer_id)
    spent = float(rfm_by_id(ctx.ws).loc[cid, "monetary"])
    return {"customer_id": cid, "points": int(spent), "phone": "13812345678",
            "provenance": f"artefacts/rfm monetary · customer {cid}"}


def _render_points(r: dict, zh: bool, focus: dict) -> str:
    return (f"{r['customer_id']} 有 {r['points']:,} 积分。" if zh else
            f"{r['customer_id']} has {r['points']:,} loyalty points.")


@pytest.fixture
def plugin():
    registry.register_tool(loyalty_points, roles={"manager", "admin"}, customer="required",
                           exemplars=("该客户有多少会员积分", "how many loyalty points does the customer have"),
                           render=_render_points, help_zh="会员积分", help_en="loyalty points",
                           example_zh="C01023 有多少积分?", example_en="How many points does C01023 have?")
    yield registry.get_spec("loyalty_points")
    registry.unregister_tool("loyalty_points")


def test_a_tool_registered_from_outside_is_routed_rendered_and_audited(plugin, demo_settings, demo_ws):
    from assistant import Assistant
    cid = str(demo_ws.artefact("rfm")["customer_id"].iloc[3])
    spent = float(demo_ws.artefact("rfm")["monetary"].iloc[3])
    a = Assistant(settings=demo_settings, role="manager", user="plugin-test")
    zh = a.ask(f"{cid} 现在有多少会员积分?")
    assert zh["tool_calls"][0]["tool"] == "loyalty_points"
    assert zh["tool_calls"][0]["args"] == {"customer_id": cid}
    assert zh["answer"].startswith(f"{cid} 有 {int(spent):,} 积分。") and "来源：artefacts/rfm" in zh["answer"]
    assert "13812345678" not in json.dumps(zh, ensure_ascii=False)  # masked by the tool layer, as for any tool
    en = a.ask(f"how many loyalty points has {cid} got?")
    assert en["tool_calls"][0]["tool"] == "loyalty_points" and "loyalty points." in en["answer"]
    # the help text, the schemas and the roles read the same spec
    assert "会员积分" in a.ask("你能做什么?")["answer"]
    assert any(s["name"] == "loyalty_points" for s in registry.tool_schemas("manager"))
    assert "loyalty_points" not in registry.tool_names("agent")
    refused = Assistant(settings=demo_settings, role="agent").ask(f"{cid} 有多少会员积分?")
    assert refused["tool_calls"][0]["result"].get("refused") and "无权" in refused["answer"]
    # every question is audited, the plugin's calls included
    lines = [json.loads(x) for x in demo_ws.audit_log_path.read_text(encoding="utf-8").splitlines()]
    mine = [r for r in lines if r.get("user") == "plugin-test"]
    assert [c["tool"] for r in mine for c in r["tool_calls"]][:2] == ["loyalty_points", "loyalty_points"]
    assert cid not in json.dumps(mine[0]["tool_calls"])  # arguments are hashed


def test_a_plugin_is_gone_when_unregistered(demo_settings):
    registry.register_tool(loyalty_points, exemplars=("该客户有多少会员积分", "loyalty points of the customer"))
    registry.unregister_tool("loyalty_points")
    assert "loyalty_points" not in registry.tool_names()
    with pytest.raises(registry.UnknownTool):
        registry.call_tool("loyalty_points", {"customer_id": "C1"}, settings=demo_settings)


def test_a_bad_spec_is_refused_with_a_clear_message():
    from knowledge.errors import GuanxiError
    with pytest.raises(GuanxiError, match=r"tool 'x': unknown role\(s\) \['owner'\]"):
        ToolSpec(loyalty_points, name="x", roles={"owner"})
    with pytest.raises(GuanxiError, match="lower_snake_case"):
        ToolSpec(loyalty_points, name="Loyalty Points")


def test_docs_tools_md_is_generated_from_the_specs():
    """docs/TOOLS.md is what `guanxi tools --markdown` prints (regenerate it after changing a tool)."""
    from pathlib import Path
    doc = Path(__file__).resolve().parents[2] / "docs" / "TOOLS.md"
    assert doc.read_text(encoding="utf-8") == registry.tools_markdown(), \
        "docs/TOOLS.md is stale: guanxi tools --markdown > docs/TOOLS.md"


def test_a_long_paste_is_not_echoed_back_whole():
    from tools.spec import spec_for
    paste = "快递破损，" * 400
    text = spec_for("similar_complaints").render({"query": paste, "hits": [], "resolved": 0}, True, {})
    assert len(text) < 120 and "…" in text
