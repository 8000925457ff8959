"""The batch file's lines made column by column (`tools.drafts_vector.ArrowDrafts`) are the bytes of the
per-customer path (`ColumnDrafts` + `compose`), and the Arrow path makes the ordinary rows itself."""
from __future__ import annotations

import pytest

import tools.drafts_vector as dv
from knowledge.workspace import Workspace
from tools.drafts_batch import write_batch


@pytest.fixture(scope="module")
def ws(routing_ws) -> Workspace:
    return Workspace(routing_ws.root)


@pytest.mark.parametrize("segment,occasion,channel,language,tone,unmask", [
    ("all", "vip_thanks", "sms", "auto", "warm", False), ("Champions", "birthday", "email", "auto", "playful", True),
    ("all", "festival", "wechat", "en", "formal", False), ("Loyal", "birthday", "sms", "zh", "warm", False),
    ("all", "vip_thanks", "email", "auto", "formal", True)])
def test_arrow_lines_are_the_per_customer_lines(ws, tmp_path, monkeypatch, segment, occasion, channel, language, tone,
                                                unmask):
    made, arrow = {"rows": 0, "arrow": 0}, dv.ArrowDrafts._made

    def counted(self, ids, unmask):
        got = arrow(self, ids, unmask)
        made["rows"] += len(ids)
        made["arrow"] += 0 if got is None else int(got[0].sum())
        return got

    monkeypatch.setattr(dv.ArrowDrafts, "_made", counted)
    fast = write_batch(ws, segment, occasion, channel, language, tmp_path / "arrow.csv", tone=tone, unmask=unmask)
    monkeypatch.setattr(dv.ArrowDrafts, "_made", lambda self, ids, unmask: None)   # every row the old way
    slow = write_batch(ws, segment, occasion, channel, language, tmp_path / "rows.csv", tone=tone, unmask=unmask)
    assert (tmp_path / "arrow.csv").read_bytes() == (tmp_path / "rows.csv").read_bytes()
    assert (fast.rows, fast.drafted, fast.with_warnings) == (slow.rows, slow.drafted, slow.with_warnings)
    assert made["rows"] == fast.rows > 0 and made["arrow"] >= 0.9 * made["rows"]


def test_odd_rows_are_left_to_the_per_customer_path_and_keep_their_place(ws, tmp_path, monkeypatch):
    from tools.care_data import care_data
    cust = ws.table("customers").copy()
    ids = cust["customer_id"].astype(str).tolist()[:40]
    cust.loc[5, "phone"] = "+86 138-1234-5678"      # not 11 digits: masked by knowledge.pii, row by row
    cust.loc[6, "name"] = "=王五"                      # a formula start: neutralised by csv_cell
    cust.loc[7, "phone"] = None
    cust.loc[8, "email"] = "no-at-sign"
    tables = {"customers": cust, "orders": ws.table("orders"), "feedback": ws.table("feedback"),
              "rfm": ws.artefact("rfm"), "as_of": ws.as_of(), "offers": ws.root}
    made, arrow = [], dv.ArrowDrafts._made
    monkeypatch.setattr(dv.ArrowDrafts, "_made", lambda self, ids, unmask: made.append(arrow(self, ids, unmask)) or made[-1])
    fast = write_batch(care_data(tables), "all", "birthday", "sms", "auto", tmp_path / "a.csv", only=ids)
    monkeypatch.setattr(dv.ArrowDrafts, "_made", lambda self, ids, unmask: None)
    slow = write_batch(care_data(tables), "all", "birthday", "sms", "auto", tmp_path / "b.csv", only=ids)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert fast.rows == slow.rows == 40
    done = made[0][0]
    assert not done[5] and not done[6] and done[7] and 30 <= done.sum() < 40   # the odd ones by the old path
    text = (tmp_path / "a.csv").read_text(encoding="utf-8-sig")
    assert "138****5678" in text and "'=王五" in text


def test_names_put_back_into_the_sources_are_the_bytes_of_the_per_customer_path(ws, tmp_path, monkeypatch):
    """The sources' JSON of many names is one template with the name as a placeholder: names that JSON or
    CSV escape, that equal another value of the sources, or that repeat, still give the same bytes."""
    from tools.care_data import care_data
    cust = ws.table("customers").copy()
    ids = cust["customer_id"].astype(str).tolist()[:30]
    for i, name in enumerate(['王"五', "李,四", "F", "Champions", "张", "张", "Mary O'Neil", "赵\\六", "周 七"]):
        cust.loc[i, "name"] = name
    tables = {"customers": cust, "orders": ws.table("orders"), "feedback": ws.table("feedback"),
              "rfm": ws.artefact("rfm"), "as_of": ws.as_of(), "offers": ws.root}
    for occasion in ("vip_thanks", "birthday"):
        fast = write_batch(care_data(tables), "all", occasion, "sms", "auto", tmp_path / f"a-{occasion}.csv", only=ids)
        with monkeypatch.context() as m:
            m.setattr(dv.ArrowDrafts, "_made", lambda self, ids, unmask: None)
            slow = write_batch(care_data(tables), "all", occasion, "sms", "auto", tmp_path / f"b-{occasion}.csv", only=ids)
        assert (tmp_path / f"a-{occasion}.csv").read_bytes() == (tmp_path / f"b-{occasion}.csv").read_bytes()
        assert fast.rows == slow.rows == 30
    assert '王""五' in (tmp_path / "a-vip_thanks.csv").read_text(encoding="utf-8-sig")
