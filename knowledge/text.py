"""Text helpers for zh/en text: language detection, tokenisation, stopwords, normalisation, place names.

Chinese is segmented with jieba (dictionary loaded once, lazily); English and other Latin-script
words become lower-cased word tokens with a light plural strip. Mixed text gets both.
Used by the BM25 index, the topic keywords (c-TF-IDF) and the sentiment lexicon.
"""
from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache

CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")   # the characters themselves: Arrow's RE2 runs .pattern
_CJK = CJK_RE
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_HAS_CJK_OR_ALNUM = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z0-9]")
_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\u3400-\u4dbf\u4e00-\u9fff]+")

# Chinese function words and fillers (kept short on purpose: content words such as 慢/差/贵 stay).
ZH_STOPWORDS = frozenset("""
的 了 是 我 你 他 她 它 们 我们 你们 他们 她们 这 那 这个 那个 这些 那些 这样 那样 这里 那里 都 也 就 还 又 在 和 与 及
或 或者 而 而且 并 并且 但 但是 可是 不过 所以 因为 如果 虽然 然后 就是 还是 只是 一个 一下 一些 一点 一次 一直 有 有点
有些 没 没有 吗 呢 吧 啊 呀 哦 嗯 哈 哈哈 啦 嘛 么 呐 着 过 得 地 之 其 被 把 给 让 对 向 从 到 于 为 为了 以 用 等 等等
上 下 里 中 后 前 时 时候 什么 怎么 怎么样 为什么 哪 哪里 谁 多少 几 个 次 件 位 家 就是说 觉得 感觉 真的 真是 实在 非常
特别 比较 已经 还有 可以 能 会 要 想 去 来 说 做 看 到了 了吧 啊啊 呵呵 您 亲 请 谢谢 一样 自己 大家 其他 另外 每 各 整个
这次 那次 本 该 此 之后 之前 以后 以前 现在 今天 昨天 明天 一般 而已 而是 不是 就算 即使 总之 然而 由于 关于 通过
你好 您好 你们好 喂 嗨
""".split())

# Words that open or close almost any complaint ("投诉：…请尽快处理"): noise in topic keywords,
# though kept for search.
TOPIC_STOPWORDS = frozenset("""
投诉 尽快 处理 希望 麻烦 说法 一下 给个 能否 是否 请问 问题 客户 反馈 情况 东西 商品 产品 已经 还是 结果 怎么办
complaint complain please hi hello dear thank thanks kg ml cm mm
""".split())

try:  # scikit-learn's English list (318 words) plus a few CRM fillers
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as _SK_EN
except Exception:  # pragma: no cover - sklearn is a dependency
    _SK_EN = frozenset()
EN_STOPWORDS = frozenset(_SK_EN) | frozenset("""
i'm i've i'd i'll it's don't didn't doesn't can't won't isn't wasn't aren't weren't im ive dont didnt doesnt cant wont isnt
wasnt just got get gets really also still would could one us x xx xxx xxxx xx/xx/xxxx amp http https co rt
""".split())

STOPWORDS = ZH_STOPWORDS | EN_STOPWORDS

_jieba_lock = threading.Lock()
_jieba = None


def _get_jieba():
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def has_cjk(text) -> bool:
    """True when ``text`` holds a Chinese (CJK) character."""
    return isinstance(text, str) and bool(CJK_RE.search(text))


_PLACE_SUFFIX = re.compile(r"(壮族|回族|维吾尔)?自治区$|特别行政区$|自治州$|省$|市$|地区$|盟$")


def place_key(name, fold: bool = False) -> str:
    """A place name without its 省 / 市 / 自治区 … suffix: "浙江省" → "浙江", "广西壮族自治区" → "广西".

    ``fold=True`` also lower-cases and drops spaces, for comparing names typed by users.
    """
    s = _PLACE_SUFFIX.sub("", str(name or "").strip())
    return s.lower().replace(" ", "") if fold else s


def detect_language(text: str) -> str:
    """'zh' when Chinese characters carry the text, 'en' for Latin-script text, 'other' when neither.

    A Chinese character counts as much as a 3-letter chunk of Latin letters, so 'iPhone 屏幕碎了'
    is zh and 'The 外卖 was cold and late' is en.
    """
    if not isinstance(text, str) or not text:
        return "other"
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return "other"
    return "zh" if cjk * 3 >= latin else "en"


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def question_language(text: str, ignore: list[str] | tuple[str, ...] = ()) -> str:
    """'zh' when a short question (minus entity names in ``ignore``) is written in Chinese, else 'en'.

    Unlike `detect_language` (documents), a few Chinese characters make a question Chinese, and
    acronyms (RFM, CLV, TOP …) and names count for neither language.

    "What is 王伟's RFM segment?" is English: the Chinese characters are a name.
    """
    t = text or ""
    for span in sorted((s for s in ignore if s), key=len, reverse=True):
        t = t.replace(span, " ")
    cjk = len(CJK_RE.findall(t))
    words = len(_LATIN_WORD.findall(re.sub(r"(?<![A-Za-z])(RFM|CLV|KPI|AOV|VIP|GMV|ID|SMS|APP|CSV|TOP|Q[1-4])(?![A-Za-z])", " ", t, flags=re.I)))
    if cjk == 0:
        return "en" if words or not has_cjk(text) else "zh"
    if words == 0:
        return "zh"
    return "zh" if cjk >= 2 * words or cjk >= 4 else "en"


def normalise(text: str) -> str:
    """NFKC, lower-case, collapsed whitespace: the form compared for exact duplicates."""
    if not isinstance(text, str):
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def dedupe_key(text: str) -> str:
    """Normalised text without punctuation or spaces: '送餐太慢！' and '送餐太慢' share a key."""
    return _PUNCT.sub("", normalise(text))


def _stem_en(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


@lru_cache(maxsize=4096)
def _tokens_cached(text: str, stop: bool) -> tuple[str, ...]:
    return tuple(_tokenize(text, stop))


def _tokenize(text: str, stop: bool) -> list[str]:
    t = normalise(text)
    if not t:
        return []
    out: list[str] = []
    if _CJK.search(t):
        for piece in _get_jieba().lcut(t):
            piece = piece.strip()
            if not piece or not _HAS_CJK_OR_ALNUM.search(piece):
                continue
            if _CJK.search(piece):
                if not (stop and piece in ZH_STOPWORDS):
                    out.append(piece)
            else:
                for w in _WORD.findall(piece):
                    if stop and (w in EN_STOPWORDS or len(w) < 2):
                        continue
                    out.append(_stem_en(w))
    else:
        for w in _WORD.findall(t):
            if stop and (w in EN_STOPWORDS or len(w) < 2):
                continue
            out.append(_stem_en(w))
    return out


def tokenize(text: str, stop: bool = True) -> list[str]:
    """Search tokens: jieba words for Chinese, lower-cased (lightly de-pluralised) words for
    English, both for mixed text; punctuation dropped; stopwords dropped when `stop`."""
    if not isinstance(text, str):
        return []
    if len(text) <= 200:
        return list(_tokens_cached(text, stop))
    return _tokenize(text, stop)


def tokenize_many(texts, stop: bool = True) -> list[list[str]]:
    return [tokenize(t, stop) for t in texts]
