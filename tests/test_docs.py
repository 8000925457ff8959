"""The documentation covers the product (as datasette's test_docs.py does): every setting and every
`GUANXI_*` environment variable in the README, every `guanxi` command and option in the README or
docs/CLI.md, and docs/CLI.md generated from the argparse parser.

Regenerate docs/CLI.md after changing the parser:  python tests/test_docs.py
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:          # `python tests/test_docs.py` from anywhere
    sys.path.insert(0, str(ROOT))

from assistant.cli import build_parser  # noqa: E402
from knowledge.settings import SETTINGS, Settings  # noqa: E402

README = ROOT / "README.md"
CLI_MD = ROOT / "docs" / "CLI.md"
# The code the product runs (tests excluded): where it reads GUANXI_* variables.
CODE = [ROOT / d for d in ("knowledge", "tools", "assistant", "evals", "scripts", "benchmarks")] + [
    ROOT / "app.py", ROOT / "start.sh", ROOT / "test.sh"]


# ----------------------------------------------------------------------------- the parser, walked
def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands(parser: argparse.ArgumentParser | None = None, prefix: str = "guanxi"):
    """(`guanxi demo`, its parser), ... depth first; a command with subcommands (`guanxi users`)
    comes before them."""
    parser = parser or build_parser()
    for name, sub in _subcommands(parser).items():
        path = f"{prefix} {name}"
        yield path, sub
        yield from commands(sub, path)


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """A command's own arguments: positionals and options, without -h and without subcommands."""
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def _metavar(a: argparse.Action) -> str:
    if a.metavar:
        return a.metavar
    if a.choices:
        return "{" + ",".join(map(str, a.choices)) + "}"
    return a.dest.upper()


def _signature(a: argparse.Action) -> str:
    if not a.option_strings:
        return _metavar(a)
    flag = ", ".join(a.option_strings)
    return flag if a.nargs == 0 else f"{flag} {_metavar(a)}"


def _details(a: argparse.Action) -> str:
    parts = [(a.help or "").strip()]
    if a.required and a.option_strings:
        parts.append("required")
    if a.option_strings and a.nargs != 0 and a.default not in (None, argparse.SUPPRESS):
        parts.append(f"default: `{a.default}`")
    return "; ".join(p for p in parts if p).replace("|", "\\|")


def _synopsis(path: str, parser: argparse.ArgumentParser) -> str:
    words = [path]
    subs = _subcommands(parser)
    for a in arguments(parser):
        if a.option_strings:
            words.append(_signature(a) if a.required else f"[{_signature(a)}]")
        else:
            words.append(_metavar(a))
    if subs:
        words.append("{" + ",".join(subs) + "} ...")
    return " ".join(words)


def cli_markdown() -> str:
    """docs/CLI.md: every command, its synopsis and its arguments with their help text."""
    parser = build_parser()
    out = ["# The `guanxi` command line", "",
           "Generated from the parser in `assistant/cli.py` (`python tests/test_docs.py` rewrites this file;",
           "a test fails when it is out of date); `guanxi COMMAND --help` prints the same help texts.",
           "Every command takes `--workspace` and `--config`; settings not given as flags come from",
           "`GUANXI_*` variables or `guanxi.toml` (see the README's Settings section).", "",
           "| command | what it does |", "|---|---|"]
    cmds = list(commands(parser))
    helps = {}
    for path, sub in cmds:
        parent, name = path.rsplit(" ", 1)
        parent_parser = parser if parent == "guanxi" else dict(cmds)[parent]
        for action in parent_parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if choice.dest == name:
                        helps[path] = choice.help or ""
    for path, _ in cmds:
        anchor = path.replace(" ", "-")
        out.append(f"| [`{path}`](#{anchor}) | {helps.get(path, '')} |")
    for path, sub in cmds:
        about = helps.get(path, "")
        out += ["", f"## {path}", "", (about[:1].upper() + about[1:] + ".") if about else "", "",
                "```", _synopsis(path, sub), "```", ""]
        args = arguments(sub)
        if args:
            out += ["| argument | meaning |", "|---|---|"]
            out += [f"| `{_signature(a)}` | {_details(a)} |" for a in args]
        subs = _subcommands(sub)
        if subs:
            out += ["", "Subcommands: " + ", ".join(f"`{path} {s}`" for s in subs) + "."]
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- settings
def _readme() -> str:
    return README.read_text(encoding="utf-8")


def _settings_table_rows() -> dict[str, list[str]]:
    """The README's settings table: `GUANXI_X` → its cells."""
    rows = {}
    for line in _readme().splitlines():
        m = re.match(r"\|\s*`(GUANXI_[A-Z0-9_]+)`\s*\|", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip().strip("|").split("|")]
    return rows


def test_every_setting_is_declared_and_documented_in_the_readme():
    from dataclasses import fields
    declared = [name for name, _, _ in SETTINGS]
    assert declared == [f.name for f in fields(Settings)]
    readme = _readme()
    for name in declared:
        assert f"GUANXI_{name.upper()}" in readme, f"setting {name} is not documented in README.md"


def test_every_setting_has_a_row_in_the_readme_settings_table_with_its_default():
    rows = _settings_table_rows()
    for name, default, _help in SETTINGS:
        var = f"GUANXI_{name.upper()}"
        assert var in rows, f"setting {name}: no `{var}` row in the README's settings table"
        cells = rows[var]
        assert len(cells) == 3 and cells[2], f"{var}: expected | variable | default | meaning |, got {cells}"
        if default not in ("", None):
            assert f"`{default}`" in cells[1], f"{var}: README says default {cells[1]!r}, the code {default!r}"
        assert getattr(Settings(), name) == (Path(default) if name == "workspace" else default)


def test_the_settings_table_lists_only_real_settings():
    declared = {f"GUANXI_{name.upper()}" for name, _, _ in SETTINGS}
    stale = set(_settings_table_rows()) - declared
    assert not stale, f"README's settings table lists variables that are not settings: {sorted(stale)}"


# ----------------------------------------------------------------------------- environment variables
def _code_files():
    for p in CODE:
        if p.is_dir():
            yield from (f for f in sorted(p.rglob("*")) if f.suffix in (".py", ".sh") and f.is_file())
        elif p.is_file():
            yield p


def environment_variables() -> dict[str, list[str]]:
    """Every GUANXI_* name the code spells out (os.environ / getenv reads, and the settings'
    GUANXI_<NAME> built from SETTINGS) → the files that mention it."""
    found: dict[str, list[str]] = {}
    for f in _code_files():
        for var in set(re.findall(r"\bGUANXI_[A-Z0-9_]*[A-Z0-9]\b", f.read_text(encoding="utf-8"))):
            found.setdefault(var, []).append(str(f.relative_to(ROOT)))
    for name, _, _ in SETTINGS:
        found.setdefault(f"GUANXI_{name.upper()}", []).append("knowledge/settings.py (SETTINGS)")
    return found


def test_the_code_reads_the_variables_this_test_knows_about():
    """The scan finds the reads (a guard against a regex that silently matches nothing)."""
    env = environment_variables()
    assert {"GUANXI_CACHE_DIR", "GUANXI_CONFIG", "GUANXI_EMBED_THREADS", "GUANXI_EVAL_DATA"} <= set(env)


def test_every_environment_variable_the_code_reads_is_in_the_readme():
    readme = _readme()
    missing = {var: where for var, where in environment_variables().items() if f"`{var}`" not in readme}
    assert not missing, f"GUANXI_* variables read by the code but not in README.md: {missing}"


# ----------------------------------------------------------------------------- the command line
def _cli_sections() -> dict[str, str]:
    """docs/CLI.md split by its `## guanxi ...` headings."""
    text = CLI_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## (guanxi[^\n]*)\n", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_docs_cli_md_is_generated_from_the_parser():
    """docs/CLI.md must be regenerated (`python tests/test_docs.py`) when the parser changes."""
    assert CLI_MD.is_file(), "run: python tests/test_docs.py"
    assert CLI_MD.read_text(encoding="utf-8") == cli_markdown(), "docs/CLI.md is stale: python tests/test_docs.py"


def test_every_command_and_option_is_documented():
    """Each command is in the README or docs/CLI.md; each of its options is on a README line that runs
    that command, or in the command's section of docs/CLI.md."""
    readme = _readme()
    sections = _cli_sections()
    lines = readme.splitlines()
    assert "docs/CLI.md" in readme, "README.md should link docs/CLI.md"
    for path, sub in commands():
        assert path in sections or path in readme, f"`{path}` is documented in neither README.md nor docs/CLI.md"
        for a in arguments(sub):
            names = a.option_strings or [_metavar(a)]
            in_cli = path in sections and all(n in sections[path] for n in names)
            in_readme = any(path in ln and all(n in ln for n in names) for ln in lines)
            assert in_cli or in_readme, f"`{path}` {names[0]} is documented in neither README.md nor docs/CLI.md"
            if a.option_strings:
                assert a.help, f"`{path}` {names[0]} has no help text (assistant/cli.py)"


def test_every_command_has_help_text():
    for path, sub in commands():
        assert path in cli_markdown()
    helps = re.findall(r"^\| \[`(guanxi [^`]+)`\]\(#[^)]*\) \| (.*) \|$", cli_markdown(), flags=re.M)
    assert helps and all(h.strip() for _, h in helps), [p for p, h in helps if not h.strip()]


if __name__ == "__main__":
    CLI_MD.write_text(cli_markdown(), encoding="utf-8")
    print(f"wrote {CLI_MD.relative_to(ROOT)}")
