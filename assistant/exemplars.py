"""Exemplars of the two intents that are not tools: ``help`` (what can you do) and ``unknown``
(out of scope: answered honestly, no tool). Each tool's own exemplars are in its spec
(`tools.spec.ToolSpec.exemplars`); `all_exemplars()` gathers every label's list for the
router's nearest-exemplar model.

Keep these varied (formal, chatty, terse, typos) and keep the evaluation questions in
``evals/questions.jsonl`` *out* of them: the evals measure how the router generalises.
"""
from __future__ import annotations

__all__ = ["NON_TOOL_EXEMPLARS", "all_exemplars"]

NON_TOOL_EXEMPLARS: dict[str, list[str]] = {
    "help": [
        '你能做什么', '你会什么', '怎么用', '帮助', '你能回答哪些问题', '有什么功能', '使用说明', 'what can you do', 'help',
        'how do I use this', 'what questions can I ask', 'what can you answer', '你好', 'hello', 'hi',
    ],
    "unknown": [
        '今天天气怎么样', '给我讲个笑话', '帮我写一首诗', '谁是美国总统', '明天股市会涨吗', '翻译一下这句话', '我想订机票', '推荐一部电影', '1+1等于几', '你叫什么名字',
        '帮我写代码', "what's the weather like", 'tell me something funny', 'write a poem', 'who won the world cup',
        'book a flight', 'what is the capital of France', 'translate this sentence', 'how do I cook rice',
        'play some music', "what's the meaning of life",
    ],
}


def all_exemplars() -> dict[str, list[str]]:
    """Label → exemplar questions: every registered tool (from its spec), then help and unknown."""
    from tools.spec import specs
    out = {s.name: list(s.exemplars) for s in specs() if s.exemplars}
    out.update(NON_TOOL_EXEMPLARS)
    return out
