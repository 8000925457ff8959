"""The wording of care-message drafts (:mod:`tools.drafts`): text data only, in Chinese and English.

* :data:`GREETINGS`, :data:`TEMPLATES` (occasion × language × tone variants of greeting, core and
  closing), :data:`SHORT_CORES` (compact cores for the shortest fallback), :data:`NO_NAME_GREETING`;
* :data:`PARTS` — the optional personal sentences (segment, last purchase, favourite category,
  recommendations, complaint reference / status, offer), looked up with :func:`part_text`;
* :data:`FESTIVAL_WISH`, :data:`FESTIVAL_EN_IN_TEXT` (per :data:`tools.care.FESTIVALS` key) and
  e-mail :data:`SUBJECTS`;
* :data:`COMPLAINT_TOPICS` and :data:`RESOLUTIONS` — the fixed phrases a draft uses for a complaint and
  its resolution, matched by keyword (:func:`classify`): the customer's and the staff's words are
  never copied into a draft.
"""
from __future__ import annotations

__all__ = ["COMPLAINT_TOPICS", "RESOLUTIONS", "classify", "GREETINGS", "TEMPLATES", "FESTIVAL_WISH",
           "FESTIVAL_EN_IN_TEXT", "SUBJECTS", "PARTS", "SHORT_CORES", "NO_NAME_GREETING", "part_text"]


# ===================================================================================== topics
# A complaint is referred to only by one of these fixed topics, never by its words.
COMPLAINT_TOPICS = (
    ("logistics", "物流", "delivery", ("物流", "快递", "配送", "送货", "发货", "到货", "派送", "运输", "签收",
                                         "delivery", "deliver", "shipping", "shipped", "courier", "parcel", "arrive")),
    ("quality", "商品质量", "product quality", ("质量", "破损", "坏了", "损坏", "瑕疵", "故障", "假货", "做工", "次品",
                                               "quality", "broken", "defect", "faulty", "damaged", "fake")),
    ("refund", "退换货", "return and refund", ("退款", "退货", "换货", "退钱", "refund", "return", "exchange")),
    ("service", "服务", "service", ("客服", "态度", "服务", "不回复", "没人理", "service", "rude", "support", "staff",
                                     "agent")),
    ("price", "价格", "pricing", ("价格", "降价", "差价", "价保", "太贵", "price", "overcharg", "expensive")),
    ("payment", "支付", "payment", ("扣款", "支付", "付款", "发票", "账单", "payment", "charged", "invoice",
                                     "billing")),
)
RESOLUTIONS = (
    ("refund", "已为您办理退款", "we have issued your refund", ("退款", "退钱", "返还", "refund")),
    ("replace", "已为您更换商品", "we have replaced the item", ("换货", "更换", "换新", "replace", "exchange")),
    ("reship", "已为您补发商品", "we have sent the item again", ("补发", "重发", "resend", "reship", "re-sent")),
    ("repair", "已为您安排维修", "we have arranged a repair", ("维修", "修理", "repair")),
    ("compensate", "已为您安排补偿", "we have arranged compensation",
     ("补偿", "赔偿", "券", "积分", "返现", "compensat", "voucher", "coupon", "credit")),
    ("explain", "已为您核实并说明情况", "we have looked into it and explained the situation",
     ("解释", "说明", "核实", "致歉", "道歉", "explain", "apolog", "clarif", "checked")),
)


def classify(text: object, table) -> tuple | None:
    """The row of ``table`` (:data:`COMPLAINT_TOPICS` or :data:`RESOLUTIONS`) with the most of its
    keywords in ``text``; None when no keyword occurs."""
    s = str(text or "").lower()
    best, hits = None, 0
    for row in table:
        n = sum(1 for kw in row[-1] if kw in s)
        if n > hits:
            best, hits = row, n
    return best


# ===================================================================================== templates
# TEMPLATES[occasion][lang][tone] = variants of (greeting: index into GREETINGS[lang][tone], core, closing).
# {a}: form of address; {you}: 您/你; {fest}/{wish}: festival name / wish; complaint parts separate.
GREETINGS = {
    "zh": {"formal": ("尊敬的{a}，", "{a}您好，"), "warm": ("亲爱的{a}，", "{a}，您好！"), "playful": ("嗨，{a}！", "{a}～")},
    "en": {"formal": ("Dear {a},", "Dear {a},"), "warm": ("Dear {a},", "Hi {a},"), "playful": ("Hi {a}!", "Hey {a}!")},
}
TEMPLATES: dict[str, dict[str, dict[str, list[tuple[str, str, str]]]]] = {
    "birthday": {
        "zh": {
            "warm": [(0, "祝您生日快乐！愿新的一岁平安喜乐。", "感谢有您。"),
                     (1, "今天是您的生日，祝您生日快乐、万事顺意！", "愿您天天开心。"),
                     (0, "生日快乐！愿您新的一岁健康快乐。", "谢谢您一直以来的陪伴。")],
            "formal": [(0, "值此生日之际，谨祝您生日快乐、身体健康。", "感谢您一直以来的支持。"),
                       (1, "恭祝您生日快乐，万事如意。", "感谢您的信任。")],
            "playful": [(0, "生日快乐呀！新的一岁也要开开心心！", "爱你哟～"),
                        (1, "叮！生日快乐！愿你天天好心情！", "今天你最大！")],
        },
        "en": {
            "warm": [(0, "Happy birthday! Wishing you a wonderful year ahead.", "Thank you for being with us."),
                     (1, "Warmest wishes on your birthday!", "Have a lovely day."),
                     (0, "Happy birthday from all of us!", "We hope your day is full of joy.")],
            "formal": [(0, "On your birthday, please accept our best wishes for health and happiness.",
                        "Thank you for your continued trust."),
                       (1, "We wish you a very happy birthday.", "Thank you for your support.")],
            "playful": [(0, "Happy birthday! Time to celebrate!", "Enjoy every minute!"),
                        (1, "It's your day! Happy birthday!", "Have a blast!")],
        },
    },
    "festival": {
        "zh": {
            "warm": [(0, "{wish}！", "感谢您一直以来的陪伴。"),
                     (1, "{fest}来临，祝您{wish}！", "感谢有您。")],
            "formal": [(0, "值此{fest}之际，谨祝您{wish}。", "感谢您一直以来的支持。"),
                       (1, "{fest}来临，恭祝您及家人{wish}。", "感谢您的信任与支持。")],
            "playful": [(0, "{fest}到啦！祝你{wish}！", "节日也要好好犒劳自己哦～"),
                        (1, "{wish}！", "假期愉快，吃好玩好～")],
        },
        "en": {
            "warm": [(0, "{wish}!", "Thank you for being with us."),
                     (1, "Warmest wishes to you and your family: {wish}!", "Thank you for your support.")],
            "formal": [(0, "On the occasion of {fest}, please accept our warmest wishes.",
                        "Thank you for your continued trust."),
                       (1, "{wish}. We wish you and your family every happiness.", "Thank you for your support.")],
            "playful": [(0, "{wish}!", "Have a great time!"),
                        (1, "It's {fest}! {wish}!", "Enjoy the holiday!")],
        },
    },
    "winback": {
        "zh": {
            "warm": [(0, "好久不见，我们很想念您！", "期待您的回来。"),
                     (1, "有一阵子没见到您了，一切都好吗？", "欢迎随时回来看看。")],
            "formal": [(0, "感谢您曾经的支持，我们一直期待再次为您服务。", "诚挚期待您的再次光临。"),
                       (1, "许久未见，诚挚问候。", "期待再次为您服务。")],
            "playful": [(0, "好久不见，想你啦！", "快回来看看吧～"),
                        (1, "好久没见到你啦！", "我们一直在等你哦～")],
        },
        "en": {
            "warm": [(0, "We haven't seen you for a while and we miss you!", "We'd love to welcome you back."),
                     (1, "It's been a while. We hope all is well!", "Come back and see us any time.")],
            "formal": [(0, "Thank you for your past support. We look forward to serving you again.",
                        "We hope to welcome you back soon."),
                       (1, "It has been some time since your last visit.", "We would be glad to serve you again.")],
            "playful": [(0, "Long time no see! We miss you!", "Come say hi!"),
                        (1, "Where have you been? We miss you!", "Pop back in soon!")],
        },
    },
    "vip_thanks": {
        "zh": {
            "warm": [(0, "感谢您一直以来的信任与支持！", "有您真好。"),
                     (1, "谢谢您一路相伴！", "我们会继续用心为您服务。")],
            "formal": [(0, "衷心感谢您长期以来的信任与支持。", "我们将继续竭诚为您服务。"),
                       (1, "承蒙您一直以来的厚爱，谨致诚挚谢意。", "期待继续为您服务。")],
            "playful": [(0, "谢谢你一直都在！", "比心～"),
                        (1, "感谢一路有你！", "爱你哟～")],
        },
        "en": {
            "warm": [(0, "Thank you for your trust and support!", "It means a lot to us."),
                     (1, "Thank you for being with us all this time!", "We're glad to have you.")],
            "formal": [(0, "We sincerely thank you for your continued trust and support.",
                        "We look forward to serving you."),
                       (1, "Please accept our heartfelt thanks for your loyalty.", "It is a privilege to serve you.")],
            "playful": [(0, "You're the best! Thanks for sticking with us!", "High five!"),
                        (1, "Big thanks for being awesome!", "See you soon!")],
        },
    },
    "recommendation": {
        "zh": {
            "warm": [(0, "", "期待再次为您服务。"), (1, "", "祝您购物愉快。")],
            "formal": [(0, "", "期待为您服务。"), (1, "", "感谢您的支持。")],
            "playful": [(0, "", "快来看看吧～"), (1, "", "等你来挑哦～")],
        },
        "en": {
            "warm": [(0, "", "We hope you like them."), (1, "", "Come and have a look.")],
            "formal": [(0, "", "We look forward to serving you."), (1, "", "Thank you for your support.")],
            "playful": [(0, "", "Go take a peek!"), (1, "", "Happy shopping!")],
        },
    },
    "complaint_followup": {
        "zh": {
            "warm": [(0, "", "感谢您的理解与支持。"), (1, "", "如有任何问题，欢迎随时联系我们。")],
            "formal": [(0, "", "感谢您的理解。"), (1, "", "如有疑问，敬请随时联系我们。")],
        },
        "en": {
            "warm": [(0, "", "Thank you for your patience."), (1, "", "Please reach out any time.")],
            "formal": [(0, "", "Thank you for your understanding."),
                       (1, "", "Please do not hesitate to contact us.")],
        },
    },
}
FESTIVAL_WISH = {  # key: (zh wish, en wish)
    "new_year": ("元旦快乐，新年新气象", "Happy New Year"),
    "spring": ("新春快乐，万事如意", "Happy Spring Festival and a prosperous new year"),
    "lantern": ("元宵节快乐，阖家团圆", "Happy Lantern Festival"),
    "valentines": ("情人节快乐", "Happy Valentine's Day"),
    "labour": ("劳动节快乐，假期愉快", "Happy Labour Day"),
    "dragon_boat": ("端午安康", "Wishing you a healthy and happy Dragon Boat Festival"),
    "qixi": ("七夕快乐", "Happy Qixi Festival"),
    "mid_autumn": ("中秋快乐，阖家团圆", "Happy Mid-Autumn Festival"),
    "national_day": ("国庆快乐，假期愉快", "Happy National Day"),
    "double11": ("双11快乐", "Happy Singles' Day"),
    "christmas": ("圣诞快乐", "Merry Christmas"),
}
FESTIVAL_EN_IN_TEXT = {
    "new_year": "the New Year", "spring": "the Spring Festival", "lantern": "the Lantern Festival",
    "valentines": "Valentine's Day", "labour": "Labour Day", "dragon_boat": "the Dragon Boat Festival",
    "qixi": "the Qixi Festival", "mid_autumn": "the Mid-Autumn Festival", "national_day": "National Day",
    "double11": "Singles' Day", "christmas": "Christmas",
}
SUBJECTS = {
    "birthday": ("{a}，祝您生日快乐", "Happy birthday, {a}!"),
    "festival": ("{fest}快乐", "{wish}"),
    "winback": ("{a}，好久不见", "We miss you, {a}"),
    "complaint_followup": ("关于您{d}的反馈", "About your feedback of {d}"),
    "vip_thanks": ("感谢有您，{a}", "Thank you, {a}"),
    "recommendation": ("为您推荐", "Picked for you, {a}"),
}
# Optional / occasion parts (zh uses {you}: 您, or 你 when playful).
PARTS = {
    "zh": {
        "segment_top": "{you}是我们最珍视的贵宾。",
        "segment_loyal": "{you}是我们的忠实顾客。",
        "last_purchase.winback": "{you}{date}购买的{product}用得还好吗？",
        "last_purchase.vip_thanks": "希望{you}{date}购买的{product}用得称心。",
        "last_purchase.birthday": "感谢{you}{date}选购{product}。",
        "last_purchase.recommendation": "感谢{you}{date}购买{product}。",
        "last_purchase": "感谢{you}{date}购买{product}。",
        "favourite.winback": "{you}喜欢的{cat}，欢迎随时回来逛逛。",
        "favourite.recommendation": "也欢迎逛逛{you}常买的{cat}。",
        "favourite": "欢迎常来逛逛{you}喜欢的{cat}。",
        "recs": "根据{you}的购买记录，推荐{you}看看：{products}。",
        "recs.short": "推荐{you}看看：{products}。",
        "ref.topic": "关于{you}{date}反馈的{topic}问题，",
        "ref": "关于{you}{date}的反馈，",
        "open.warm": "非常抱歉给您带来不便，我们已安排专人跟进，会尽快与您联系。",
        "open.formal": "对此我们深表歉意，专员正在跟进处理，将尽快与您联系。",
        "resolved.warm": "{resolution}，请问您对处理结果还满意吗？",
        "resolved.formal": "{resolution}，不知您对处理结果是否满意？",
        "offer": "{offer}。",
        "ref.short": "关于{you}{date}的反馈，",
        "open.short": "我们深表歉意，将尽快跟进。",
        "resolved.short": "{resolution}，请问{you}满意吗？",
    },
    "en": {
        "segment_top": "You are one of our most valued customers.",
        "segment_loyal": "You are one of our most loyal customers.",
        "last_purchase.winback": "How are you finding the {product} you bought on {date}?",
        "last_purchase.vip_thanks": "We hope you are enjoying the {product} you bought on {date}.",
        "last_purchase": "Thank you for buying {product} on {date}.",
        "favourite.winback": "Your favourite {cat} is waiting for you.",
        "favourite.recommendation": "Come and browse {cat}, one of your favourites.",
        "favourite": "Drop by {cat}, one of your favourites, any time.",
        "recs": "Based on your purchases, you may like: {products}.",
        "recs.short": "You may like: {products}.",
        "ref.topic": "About the {topic} issue you reported on {date}:",
        "ref": "About your feedback of {date}:",
        "open.warm": "We are very sorry for the trouble. A colleague is following it up and will contact you soon.",
        "open.formal": "We sincerely apologise. A specialist is handling it and will contact you shortly.",
        "resolved.warm": "{resolution}. Are you happy with how it was resolved?",
        "resolved.formal": "{resolution}. We would be grateful to know whether you are satisfied with the outcome.",
        "offer": "{offer}.",
        "ref.short": "re your feedback of {date}:",
        "open.short": "we're sorry and will follow up soon.",
        "resolved.short": "{resolution}. Are you satisfied?",
    },
}
# Compact cores, used only when no full template fits (e.g. an English SMS to a Chinese name: UCS-2, 70).
SHORT_CORES = {
    "birthday": ("祝{you}生日快乐！", "Happy birthday!"),
    "festival": ("{wish}！", "{wish}!"),
    "winback": ("好久不见，期待{you}回来看看！", "We miss you! Hope to see you soon."),
    "vip_thanks": ("感谢{you}的支持！", "Thank you for your support!"),
    "recommendation": ("", ""),
    "complaint_followup": ("", ""),
}
NO_NAME_GREETING = {"zh": "您好！", "en": "Hello,"}


def part_text(key: str, lang: str, occasion: str | None = None) -> str:
    """The :data:`PARTS` sentence ``key`` in ``lang``; its ``key.occasion`` variant when there is one."""
    p = PARTS[lang]
    if occasion and f"{key}.{occasion}" in p:
        return p[f"{key}.{occasion}"]
    return p[key]
