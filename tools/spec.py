"""The tool spec: everything the rest of Guanxi needs to know about one tool, declared beside it.

A tool is a plain typed function (its name, docstring and type hints are the argument schema,
as in simonw/llm) plus a `ToolSpec` that the registry, the offline router, the answer layer,
`help_text`, the LangChain tool list, `guanxi tools` and the docs all read. No other list of
tool names exists: registering a spec is the whole of adding a tool.

>>> from tools.spec import ToolSpec, Serve, Cue, register
>>> def greet(name: str, *, ctx=None) -> dict:
...     '''Say hello to someone.
...
...     Args:
...         name: who to greet
...     '''
...     return {"name": name, "provenance": "greet"}
>>> spec = register(ToolSpec(greet, exemplars=("跟该客户打个招呼", "say hello to the customer"),
...                          render=lambda r, zh, focus: ("你好，" if zh else "Hello, ") + r["name"]))
>>> spec.name, sorted(spec.roles)
('greet', ['admin', 'manager'])

Routing (read by `assistant.router`): the nearest-exemplar model scores *families* of tools
(by default a tool is its own family); ``cues`` add a boost to a family when a pattern matches;
``serves`` say which families the tool answers and when (a predicate over the question's
slots), in priority order. ``args`` maps the question's slots to the tool's parameters;
``customer`` says whether it needs one customer; ``needs`` names the other slots without which
the router asks a clarifying question; ``inherit`` adjusts a follow-up's arguments.
"""
from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

from knowledge.errors import GuanxiError
from knowledge.text import has_cjk

__all__ = ["ToolSpec", "Serve", "Cue", "Frame", "register", "unregister", "spec_for", "specs", "spec_names",
           "ROLES", "EVERY_ROLE", "MANAGERS", "RIGHTS"]

ROLES = ("manager", "agent", "admin")
EVERY_ROLE = frozenset(ROLES)
MANAGERS = frozenset({"manager", "admin"})

Renderer = Callable[[dict, bool, dict], str]

# Rights that are not a tool call (the app's data page). Tools carry their own `roles`.
RIGHTS: dict[str, frozenset[str]] = {
    "upload_data": frozenset({"admin"}),        # upload files and rebuild the workspace
    "switch_workspace": frozenset({"admin"}),   # serve another workspace
    "see_data_quality": frozenset({"admin"}),   # the quality report and quarantine counts
}


@dataclass(frozen=True)
class Cue:
    """A keyword pattern that adds ``boost`` to ``family``'s score (the tool's own family when None)."""
    pattern: re.Pattern | str
    boost: float = 0.2
    family: str | None = None

    def compiled(self) -> re.Pattern:
        p = self.pattern
        # ASCII word boundaries: "C01023的CLV" has a boundary between 的 and CLV
        return p if isinstance(p, re.Pattern) else re.compile(p, re.I | re.ASCII)


@dataclass(frozen=True)
class Serve:
    """This tool answers ``family`` when ``when(frame)`` holds (always when None); lower
    ``priority`` is tried first among the tools serving that family."""
    family: str
    when: Callable[["Frame"], bool] | None = None
    priority: int = 50


@dataclass
class Frame:
    """What a spec's routing hooks see of one question: its text, the slots the router found,
    whether one customer is meant, and the conversation's memory (may be None)."""
    q: str
    slots: dict
    has_customer: bool = False
    language: str = "zh"
    memory: Any = None
    vocab: Any = None
    ws: Any = None
    who: str | None = None               # the one customer meant, when known
    segment_words: bool = False          # the question speaks of a segment / group
    complaint_text: Callable[..., str] | None = None  # (fallback=True) → the complaint described

    def top(self, key: str = "top") -> dict:
        return {key: self.slots["top"]} if self.slots.get("top") else {}

    def copy(self, keys: Iterable[str]) -> dict:
        return {k: self.slots[k] for k in keys if self.slots.get(k)}


@dataclass
class ToolSpec:
    """One tool, declared once.

    ``function`` is the plain typed function, or ``"package.module:function"`` imported on first
    use (so `import tools.registry` stays cheap). ``roles``: who may call it (the registry
    refuses everyone else). ``exemplars``: routing examples, entities masked the way the router
    masks a question (该客户 / the customer, 该商品 / this product, 该分群 / this segment, 该地区 /
    this region), Chinese and English together. ``render(result, zh, focus) -> str`` writes the
    answer in either language (without the provenance line, which the answer layer adds).
    ``help_zh`` / ``help_en``: a few words for the capability list of `help_text`.
    ``example_zh`` / ``example_en``: one concrete question for that list.
    """
    function: Callable | str
    name: str = ""
    roles: frozenset[str] = MANAGERS
    family: str = ""
    exemplars: tuple[str, ...] = ()
    cues: tuple[Cue, ...] = ()
    serves: tuple[Serve, ...] = ()
    customer: Literal["required", "optional", None] = None
    needs: tuple[str, ...] = ()
    args: Callable[[Frame], dict] | None = None
    inherit: Callable[[dict, dict, Frame], None] | None = None
    refine: Callable[[Any, Frame], None] | None = None
    after_list_customer: str | None = None
    render: Renderer | None = None
    help_zh: str = ""
    help_en: str = ""
    example_zh: str = ""
    example_en: str = ""
    eval_questions: tuple[dict, ...] = ()
    order: int = 1000

    def __post_init__(self):
        if not self.name:
            if isinstance(self.function, str):
                self.name = self.function.rpartition(":")[2]
            else:
                self.name = self.function.__name__
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise GuanxiError(f"tool name {self.name!r}: expected lower_snake_case letters, digits and _")
        self.roles = frozenset(self.roles)
        unknown = self.roles - EVERY_ROLE
        if unknown:
            raise GuanxiError(f"tool {self.name!r}: unknown role(s) {sorted(unknown)}; expected {', '.join(ROLES)}")
        self.family = self.family or self.name
        if not self.serves:
            self.serves = (Serve(self.family),)
        self.exemplars = tuple(self.exemplars)
        self.cues = tuple(self.cues)
        self.compiled_cues = tuple((c.family or self.family, c.compiled(), c.boost) for c in self.cues)
        self._fn: Callable | None = None if isinstance(self.function, str) else self.function

    # ------------------------------------------------------------------ the function
    @property
    def fn(self) -> Callable:
        if self._fn is None:
            mod, _, attr = str(self.function).partition(":")
            try:
                self._fn = getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError) as e:
                raise GuanxiError(f"tool {self.name!r}: cannot import {self.function!r} ({e})") from None
        return self._fn

    # ------------------------------------------------------------------ routing data
    @property
    def exemplars_zh(self) -> tuple[str, ...]:
        return tuple(t for t in self.exemplars if has_cjk(t))

    @property
    def exemplars_en(self) -> tuple[str, ...]:
        return tuple(t for t in self.exemplars if not has_cjk(t))

    def serve_for(self, family: str) -> Serve | None:
        return next((s for s in self.serves if s.family == family), None)

    def route_args(self, frame: Frame) -> dict:
        return dict(self.args(frame)) if self.args else {}


_LOCK = threading.RLock()
_SPECS: dict[str, ToolSpec] = {}
_LOADED = False
TOOL_MODULE_SUFFIX = "_tools"  # tools/<family>_tools.py: the built-in tool modules, found by name


def _load_builtins() -> None:
    """Import every ``tools/*_tools.py`` once: each registers its specs (no list of them exists)."""
    global _LOADED
    if _LOADED:
        return
    with _LOCK:
        if _LOADED:
            return
        _LOADED = True
        import pkgutil

        import tools
        for mod in sorted(m.name for m in pkgutil.iter_modules(tools.__path__) if m.name.endswith(TOOL_MODULE_SUFFIX)):
            importlib.import_module(f"tools.{mod}")


def register(spec: ToolSpec) -> ToolSpec:
    """Add (or replace) a tool. Returns the spec, so a module can keep it as a constant."""
    with _LOCK:
        _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    with _LOCK:
        _SPECS.pop(name, None)


def specs() -> list[ToolSpec]:
    """Every registered tool: the built-in ones first (in declaration order), then the others."""
    _load_builtins()
    with _LOCK:
        out = list(_SPECS.values())
    return sorted(out, key=lambda s: s.order)


def spec_names() -> list[str]:
    return [s.name for s in specs()]


#: names tools had before (old audit logs, scripts): "kpi" is query_metrics since the semantic layer
RENAMED = {"kpi": "query_metrics"}


def spec_for(name: str) -> ToolSpec | None:
    _load_builtins()
    with _LOCK:
        return _SPECS.get(name) or _SPECS.get(RENAMED.get(name, ""))
