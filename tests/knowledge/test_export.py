"""CSV files for people: text cells cannot run as spreadsheet formulas; numbers are untouched.
Exports belong to their maker: a folder of their own, an unguessable id, a TTL."""
from __future__ import annotations

import os
import stat
import time

import pandas as pd

from knowledge.export import (export_token, new_export_path, neutralise_cell, open_export, owner_folder,
                              purge_expired_exports, write_csv)


def test_formula_starts_are_neutralised_and_numbers_are_not():
    for bad in ("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=x", "\r=x"):
        assert neutralise_cell(bad) == "'" + bad
    for ok in ("-5", "+86", "-3.50", "1e3", "张三", "", None, 12.5):
        assert neutralise_cell(ok) == ok


def test_write_csv_writes_the_neutralised_copy(tmp_path):
    df = pd.DataFrame({"name": ["=evil()", "王伟"], "amount": [-5.0, 3.0]})
    back = pd.read_csv(write_csv(df, tmp_path / "x.csv"))
    assert back["name"].tolist() == ["'=evil()", "王伟"] and back["amount"].tolist() == [-5.0, 3.0]
    assert df["name"].iloc[0] == "=evil()"  # the caller's frame is not changed


def _export(root, user, now=None):
    path = new_export_path(root, user, "drafts-At_Risk-birthday-sms.csv", ttl_minutes=60, now=now)
    path.write_text("customer_id,phone\nC1,13812345678\n", encoding="utf-8")
    return path


def test_an_export_goes_to_its_makers_folder_under_an_unguessable_id(tmp_path):
    a, b = _export(tmp_path, "admin"), _export(tmp_path, "admin")
    assert a.parent.parent == b.parent.parent == tmp_path / "exports" / owner_folder("admin")
    assert a.parent != b.parent and a.name == "drafts-At_Risk-birthday-sms.csv"   # same name, two exports
    token = export_token(a)
    assert len(token) == 32 and token == a.parent.name and export_token(tmp_path / "x.csv") is None
    assert stat.S_IMODE(a.parent.stat().st_mode) == 0o700
    assert owner_folder("a b") != owner_folder("a_b") and "/" not in owner_folder("../../etc")


def test_an_export_opens_for_its_maker_only_and_only_within_its_ttl(tmp_path):
    path = _export(tmp_path, "admin")
    token = export_token(path)
    assert open_export(tmp_path, "admin", token, 60) == ("ok", path)
    assert open_export(tmp_path, "agent", token, 60) == ("not_yours", None)
    for bad in ("x" * 32, "../" * 11, "*" * 32, token[:-1]):
        assert open_export(tmp_path, "admin", bad, 60) == ("not_found", None)
    later = time.time() + 61 * 60
    assert open_export(tmp_path, "admin", token, 60, now=later) == ("expired", None)
    assert not path.exists() and not path.parent.exists()       # deleted when refused
    assert open_export(tmp_path, "admin", token, 60) == ("not_found", None)


def test_expired_exports_are_purged_old_flat_ones_too(tmp_path):
    fresh, stale = _export(tmp_path, "manager"), _export(tmp_path, "admin")
    legacy = tmp_path / "exports" / "drafts-At_Risk-birthday-sms-admin.csv"   # before exports had owners
    legacy.write_text("x", encoding="utf-8")
    old = time.time() - 2 * 3600
    for p in (stale, legacy):
        os.utime(p, (old, old))
    assert purge_expired_exports(tmp_path, 60) == 2
    assert fresh.exists() and not stale.exists() and not stale.parent.exists() and not legacy.exists()
    _export(tmp_path, "agent", now=time.time() + 2 * 3600)       # a new export purges first
    assert not fresh.exists()
