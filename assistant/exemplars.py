"""Exemplar questions for the offline router's nearest-exemplar intent model.

Entities are already masked the way the router masks a question before embedding it:
a customer → 该客户 / the customer, a product or category → 该商品 / this product, a segment →
该分群 / this segment, a province or city → 该地区 / this region. Labels are tool names, plus
``help`` (what can you do) and ``unknown`` (out of scope: answered honestly, no tool).

Keep these varied (formal, chatty, terse, typos) and keep the evaluation questions in
``evals/questions.jsonl`` *out* of this list: the evals measure how the router generalises.
"""
from __future__ import annotations

EXEMPLARS: dict[str, list[str]] = {
    "customer_profile": [
        "该客户的画像", "给我看看该客户的客户画像", "该客户是什么情况", "查一下该客户的资料", "该客户的基本信息",
        "介绍一下该客户", "该客户的档案", "调出该客户的客户卡片", "该客户是谁", "该客户最近买了什么",
        "该客户的详细情况", "帮我查该客户", "该客户这个人怎么样", "该客户的消费记录和联系方式",
        "show me the customer's profile", "tell me about the customer", "who is the customer",
        "customer card for the customer", "look up the customer", "give me an overview of the customer",
        "what do we know about the customer", "pull up the customer's details", "the customer's profile please",
        "summary of the customer", "customer 360 for the customer", "what did the customer buy recently",
        "the customer", "info on the customer",
    ],
    "rfm_lookup": [
        "该客户的RFM是多少", "该客户属于哪个分群", "该客户是什么类型的客户", "该客户的RFM分数", "该客户是哪类客户",
        "该客户的RFM分层", "该客户在RFM模型里是什么段", "该客户最近一次购买是多少天前", "该客户的消费频次和金额",
        "该客户算重要价值客户吗", "该客户的客户分级", "该客户一共消费了多少钱", "该客户下了几单",
        "what is the customer's RFM segment", "which segment is the customer in", "RFM score of the customer",
        "what segment does the customer belong to", "the customer's recency frequency monetary",
        "how recently did the customer buy", "how much has the customer spent in total", "is the customer a champion",
        "RFM for the customer", "what tier is the customer", "how many orders has the customer placed",
    ],
    "segment_summary": [
        "客户分群分布", "各个分群有多少客户", "RFM分群的分布情况", "每个客户群体的人数和占比", "客户分层结构是怎样的",
        "八大类客户各有多少人", "该分群有多少", "该分群有多少人", "该分群占比多少", "高价值客户、潜力客户各有多少",
        "客户构成", "各类客户的消费贡献", "RFM模型把客户分成了哪些类", "客户分级统计",
        "segments overview", "how many customers are in each segment", "breakdown of customers by RFM segment",
        "how many customers does this segment have", "what share of customers are in this segment",
        "customer mix by segment", "segment sizes", "show the RFM segments with counts",
        "how are our customers split across tiers", "distribution of the eight customer classes",
        "how many customers per cluster",
    ],
    "segment_members": [
        "该分群有哪些客户", "列出该分群的客户", "该分群的名单", "该分群都是谁", "给我该分群客户名单",
        "导出该分群的成员", "该分群里消费最多的客户", "看看该分群的前几名", "该分群客户有谁", "该分群的成员",
        "who are this segment", "list the customers in this segment", "members of this segment",
        "show me this segment customers", "give me the list of this segment", "top spenders in this segment",
        "which customers are in this segment", "names in this segment", "export this segment",
    ],
    "cluster_lookup": [
        "该客户属于哪个聚类", "该客户在哪个簇", "该客户的聚类结果", "聚类分析的结果", "客户聚成了几类",
        "有哪些客户群聚类", "聚类画像", "每个聚类的特征是什么", "k-means分出了哪些群",
        "which cluster is the customer in", "the customer's cluster", "what cluster does the customer belong to",
        "show the customer clusters", "what clusters do we have", "describe the clusters",
        "cluster profiles", "how were customers clustered",
    ],
    "churn_risk": [
        "该客户的流失概率", "该客户会流失吗", "该客户流失风险大吗", "该客户的流失风险", "该客户还会回来买吗",
        "该客户有没有流失的可能", "该客户为什么流失风险高", "该客户的流失分数",
        "what is the customer's churn probability", "is the customer likely to churn", "churn risk of the customer",
        "will the customer churn", "how likely is the customer to leave", "why is the customer at risk",
        "the customer's churn score", "is the customer going to stop buying",
    ],
    "at_risk_customers": [
        "哪些客户有流失风险", "流失风险最高的客户", "可能流失的客户名单", "列出高流失风险客户", "快要流失的客户有哪些",
        "哪些客户要流失了", "流失预警名单", "该地区有哪些客户可能流失", "需要挽回的客户", "流失概率排名",
        "高风险流失客户有多少", "哪些老客户不来了",
        "which customers are at risk of churning", "who is likely to churn", "customers most likely to churn",
        "churn risk list", "show me at-risk customers", "who might we lose", "top churn risks in this region",
        "customers we are about to lose", "high churn probability customers", "which customers should we win back",
        "how many customers are at high risk of churn",
    ],
    "clv_estimate": [
        "该客户的CLV", "该客户的终身价值", "该客户的客户生命周期价值是多少", "该客户未来一年能贡献多少",
        "该客户值多少钱", "该客户的预期价值", "CLV最高的客户", "终身价值最高的客户有哪些", "客户生命周期价值排名",
        "该客户还活跃的概率", "预计该客户未来90天会买几次",
        "what is the customer's CLV", "lifetime value of the customer", "how much is the customer worth",
        "customer lifetime value for the customer", "expected value of the customer next year",
        "who has the highest CLV", "top customers by lifetime value", "what is the total customer lifetime value",
        "probability the customer is still alive", "expected purchases of the customer",
    ],
    "bought_together": [
        "买该商品的人还会买什么", "该商品经常和什么一起买", "和该商品一起购买的商品", "该商品的关联商品",
        "该商品搭配什么卖得好", "购买该商品的客户同时买了什么", "该商品的连带购买", "该商品适合和什么做套餐",
        "关联规则", "哪些商品经常一起买", "购物篮分析结果", "该商品的交叉销售机会",
        "what do people buy together with this product", "what goes with this product", "frequently bought with this product",
        "products bought alongside this product", "what else do buyers of this product purchase",
        "association rules for this product", "bundle ideas for this product", "cross-sell for this product",
        "which items are often purchased together", "market basket analysis",
    ],
    "recommend_products": [
        "给该客户推荐什么商品", "该客户可能喜欢什么", "向该客户推荐产品", "该客户下一步可能买什么",
        "给该客户推荐几款商品", "可以给该客户交叉销售什么", "该客户适合什么产品", "推荐给该客户的商品",
        "what should we recommend to the customer", "product recommendations for the customer",
        "what would the customer like", "suggest products for the customer", "what to upsell to the customer",
        "next best product for the customer", "recommend something to the customer",
    ],
    "kpi": [
        "复购率是多少", "客单价多少", "按省份的销售额", "月度销售趋势", "留存率怎么样", "客户满意度", "投诉率是多少",
        "销售额是多少", "订单数", "卖了多少钱", "新客户有多少", "平均多久复购一次", "投诉处理要多久",
        "各渠道的客户数", "哪个城市卖得最好", "按品类看销售额", "男女客户的客单价对比", "各年龄段的复购率",
        "每个月的订单量", "该地区的销售额", "该商品的销售额", "营业额", "GMV多少", "同期群留存",
        "what is the repurchase rate", "average order value", "sales split by province", "monthly sales trend",
        "customer retention", "customer satisfaction level", "complaint rate", "total revenue",
        "how many orders did we get", "number of new customers", "mean days between purchases",
        "how long does it take to resolve complaints", "which city has the highest sales", "sales by category",
        "AOV by gender", "repeat purchase rate by channel", "orders per month", "sales in this region",
        "how are sales trending", "revenue of this product", "retention of monthly cohorts",
    ],
    "similar_complaints": [
        "有没有人投诉过快递破损", "类似的投诉有哪些", "之前有没有类似的投诉", "有客户反映过发错货吗",
        "以前怎么处理退款慢的投诉", "找一下和质量问题相关的投诉", "有没有人说过客服态度差", "搜索关于漏发的投诉",
        "有人抱怨过包装破了吗", "这种投诉以前是怎么解决的", "查一下相似的客户反馈", "有没有人投诉物流慢",
        "has anyone complained about damaged parcels", "similar complaints about late shipping",
        "find complaints like wrong item received", "did customers complain about refunds before",
        "how did we resolve complaints about rude staff", "search feedback about poor quality",
        "any complaints mentioning broken packaging", "have we seen this complaint before",
        "past complaints about billing errors", "show me similar feedback",
    ],
    "complaint_topics": [
        "投诉主要集中在哪些方面", "投诉最多的问题是什么", "主要投诉类型", "投诉热点", "客户都在抱怨什么",
        "投诉主题分析", "最常见的投诉原因", "投诉话题排名", "客户反馈的主要问题", "差评主要说了什么",
        "top complaint topics", "what are customers complaining about", "main complaint areas",
        "most common complaints", "complaint categories breakdown", "what do complaints talk about",
        "biggest pain points from feedback", "top issues in customer complaints", "complaint trends by topic",
    ],
    "care_calendar": [
        "未来7天谁过生日", "这周有哪些客户过生日", "最近要过生日的客户", "下个月的节日关怀名单", "该联系哪些客户了",
        "需要回访的客户", "客户关怀日历", "近期有什么节日要发祝福", "哪些VIP需要感谢", "哪些客户该定期回访",
        "中秋节要给哪些客户发祝福", "今天该关怀谁",
        "whose birthday is coming up", "upcoming customer birthdays", "care calendar for the next two weeks",
        "who should we contact this week", "which customers are due for a follow-up", "upcoming festivals to greet customers",
        "customers with birthdays next week", "who needs a check-in call", "care reminders",
    ],
    "draft_care_message": [
        "给该客户写一条生日祝福短信", "帮我给该客户起草一条关怀消息", "给该客户写个中秋祝福", "写一封感谢信给该客户",
        "给该客户拟一条挽回短信", "帮我写条微信发给该客户", "给该客户写一条推荐商品的消息", "起草投诉回访消息给该客户",
        "给该分群客户批量写挽回短信", "写一条春节祝福",
        "draft a birthday message for the customer", "write a win-back SMS to the customer",
        "compose a thank-you email for the customer", "write a follow-up message after the customer's complaint",
        "draft a Christmas greeting for the customer", "write a WeChat message recommending products to the customer",
        "prepare a care message for the customer", "draft messages for all this segment customers",
    ],
    "help": [
        "你能做什么", "你会什么", "怎么用", "帮助", "你能回答哪些问题", "有什么功能", "使用说明",
        "what can you do", "help", "how do I use this", "what questions can I ask", "what can you answer",
        "你好", "hello", "hi",
    ],
    "unknown": [
        "今天天气怎么样", "给我讲个笑话", "帮我写一首诗", "谁是美国总统", "明天股市会涨吗", "翻译一下这句话",
        "我想订机票", "推荐一部电影", "1+1等于几", "你叫什么名字", "帮我写代码",
        "what's the weather like", "tell me something funny", "write a poem", "who won the world cup", "book a flight",
        "what is the capital of France", "translate this sentence", "how do I cook rice", "play some music",
        "what's the meaning of life",
    ],
}

# Tool families: the nearest-exemplar model picks a family; the slots pick the tool inside it.
FAMILY: dict[str, str] = {
    "customer_profile": "profile", "rfm_lookup": "rfm", "segment_summary": "segment",
    "segment_members": "segment", "cluster_lookup": "cluster", "churn_risk": "churn",
    "at_risk_customers": "churn", "clv_estimate": "clv", "bought_together": "together",
    "recommend_products": "recommend", "kpi": "kpi", "similar_complaints": "similar",
    "complaint_topics": "topics", "care_calendar": "care", "draft_care_message": "draft",
    "help": "help", "unknown": "unknown",
}
