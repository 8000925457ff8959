"""The semantic model: shipped metrics and dimensions, a workspace's own words and verified
questions, and clear messages for bad entries."""
from __future__ import annotations

import shutil

import pytest

from tools.kpi import DIMENSIONS, METRICS
from tools.semantic import SemanticError, semantic_model


@pytest.fixture
def ws_copy(routing_ws, tmp_path):
    """A copy of the demo workspace's tables and artefacts that a test may give a semantic.toml."""
    from knowledge.workspace import Workspace
    for d, src in (("tables", routing_ws.tables_dir), ("artefacts", routing_ws.artefacts_dir)):
        shutil.copytree(src, tmp_path / d)   # read in place (no current.json)
    return Workspace(tmp_path)


def test_the_shipped_model_is_the_kpi_vocabulary():
    m = semantic_model()
    assert set(m.metrics) == set(METRICS) and set(m.dimensions) == set(DIMENSIONS)
    assert all(v.get("description") and v.get("synonyms") for v in m.metrics.values())
    assert m.metrics["units"]["zh"] == METRICS["units"]["zh"]


def test_a_workspace_adds_its_words_and_verified_questions(ws_copy):
    (ws_copy.root / "semantic.toml").write_text('''
[terms]
"流水" = "sales"
"大区" = "province"
"老客" = "segment:Loyal"

[metrics.aov]
synonyms = ["件单价"]

[[verified]]
question = "双十一战报"
query = { metric = "sales", date_from = "2025-11-01", date_to = "2025-11-11", compare = "same_period_last_year" }
''', encoding="utf-8")
    from assistant.router import Router
    r = Router(ws_copy)
    assert r.route("上个月流水多少").args["metric"] == "sales"
    assert r.route("各大区的流水").args == {"metric": "sales", "by": "province"}
    assert r.route("件单价是多少").args["metric"] == "aov"
    assert r.route("老客的平均年龄").args == {"metric": "average_age", "segment": "Loyal"}
    v = r.route("双十一战报?")
    assert v.tool == "query_metrics" and v.args["compare"] == "same_period_last_year" and "verified question" in v.notes


@pytest.mark.parametrize("text, message", [
    ('[terms]\n"毛利" = "profit"\n', r"terms\.毛利 = 'profit' names no metric or dimension"),
    ('[terms]\nx = 3\n', r"terms\.x = 3: expected a metric"),
    ('[metrics.margin]\nzh = "毛利"\n', r"metrics\.margin: no such metric"),
    ('[[verified]]\nquestion = "q"\nquery = { metric = "sales", by = "colour" }\n', r"verified\[0\]: query\.by = 'colour'"),
    ('[[verified]]\nquestion = "q"\nquery = { metric = "sales", where = "1=1" }\n', r"unknown query key\(s\) \['where'\]"),
    ('[oops]\n', r"unknown section\(s\) \['oops'\]"),
    ('terms = [', r"not valid TOML"),
])
def test_bad_entries_name_the_file_the_entry_and_what_was_expected(ws_copy, text, message):
    (ws_copy.root / "semantic.toml").write_text(text, encoding="utf-8")
    with pytest.raises(SemanticError, match=message) as e:
        semantic_model(ws_copy)
    assert str(ws_copy.root / "semantic.toml") in str(e.value)


def test_guanxi_semantic_prints_the_effective_model(ws_copy, capsys):
    from assistant.cli import main
    (ws_copy.root / "semantic.toml").write_text('[terms]\n"流水" = "sales"\n', encoding="utf-8")
    assert main(["semantic", "--workspace", str(ws_copy.root)]) == 0
    out = capsys.readouterr().out
    assert "largest_order" in out and "流水 → metric sales" in out
    (ws_copy.root / "semantic.toml").write_text('[terms]\n"流水" = "profit"\n', encoding="utf-8")
    assert main(["semantic", "--workspace", str(ws_copy.root)]) != 0
    err = capsys.readouterr()
    assert "names no metric or dimension" in err.err + err.out and "Traceback" not in err.err
