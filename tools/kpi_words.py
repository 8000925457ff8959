"""The words in a question that name a metric or a breakdown of query_metrics: the first pattern of
METRIC_WORDS that matches names the metric, DIMENSION_WORDS the breakdown ("各省" → province). The
router reads them; the metric and dimension names are tools.kpi's."""
from __future__ import annotations

import re

__all__ = ["METRIC_WORDS", "DIMENSION_WORDS", "COMPLAINT_BY", "LAPSED"]
# "哪个品类投诉最多" / "complaints by city": a complaint count per group (the complaints metric; the
# rate only when asked: "投诉率最高的品类")
_DIM_WORDS = r"(品类|类目|类别|商品类|商品|产品|城市|省份?|地区|渠道|平台|月份?|年龄段|性别|categor(y|ies)|cit(y|ies)|provinces?|regions?|channels?|months?)"
COMPLAINT_BY = (r"(投诉|差评|complaints?).{0,8}(最多|最少|最高|最低|most|fewest|highest|lowest|by|per).{0,4}" + _DIM_WORDS +
                 r"|(哪个|哪些|哪类|哪一类|哪|各|每个|按|分|which|each|per)\s*" + _DIM_WORDS + r".{0,20}(投诉|差评|complain)")

# "最近30天没买东西的客户", "超过90天没下单", "半年没来买了", "haven't ordered in the last 60 days": a span of
# time and no order in it (a span is required: "没买过咖啡的客户" is not a lapse)
# (a month needs 个: "10月" is October; a year at most two digits: "2025年" is a year; a day after 月 is a date)
_SPAN = r"(?<![\d月])(\d{1,2}|\d{3}(?=\s*(天|日))|[一二三四五六七八九十两半几]+)\s*(天|日|周|星期|礼拜|个月|个?年)"
_NO_ORDER_ZH = (r"(没|没有|未|不)(再|怎么)?(来)?(买|购买|购物|下单|下过单|消费|光顾|复购|回购|订|买过东西)|"
                r"(没|没有)(再)?(回)?来(过)?(?!电|信|消息)|未(再|曾)(回)?来|一(单|次|笔)(都|也)(没|没有|不)(下|买|来)")   # "快三个月没来了" (not 未来, the future); "一单都没下"
_NO_ORDER_EN = (r"(haven't|have not|hasn't|has not|didn't|did not|not|no longer)\s+(\w+\s+)?(bought|ordered|purchased|shopped|placed an order|"
                r"made a purchase|come back)|\bno (orders?|purchases?)\b|\bwithout (an? )?(order|purchase)|\blapsed\b|\binactive\b|"
                # "did not order last month", "didn't buy anything": the verb alone or with anything, not "didn't buy coffee"
                r"(didn't|did not|haven't|have not|hasn't|has not|don't|do not|never)\s+(buy|order|purchase|shop|place an order)"
                r"(?=\s+(anything|from us|with us|again|at all|in|during|since|for|last|this|over|the (last|past))\b|\s*[?.!,]|\s*$)")
LAPSED = (_SPAN + r".{0,8}" + _NO_ORDER_ZH + r"|" + _NO_ORDER_ZH + r".{0,6}" + _SPAN + r"|"
          r"(" + _NO_ORDER_EN + r").{0,40}\b(days?|weeks?|months?|quarters?|years?)\b|\b(days?|weeks?|months?|quarters?|years?)\b.{0,30}(" + _NO_ORDER_EN + r")")

# (pattern, metric): the first match names the metric a question asks about
METRIC_WORDS: list[tuple[str, str]] = [
    (LAPSED, "lapsed_customers"),
    # "今年流失了多少客户", "how many customers have we lost this year": customers gone quiet in the period
    (r"流失(掉)?了(多少|几)|\b(have|has|we've|we|did we) (lost|churned) (\d+ |any |many )?(customers|clients|buyers)|"
     r"customers (have )?we('ve)? lost|how many (customers|clients|buyers) (have )?(we )?(lost|churned)", "lapsed_customers"),
    # the per-customer values of the artefacts, aggregated: only with a word that asks for an aggregate
    (r"平均(的|每位|每个)?(客户)?(的)?(终身|生命周期)价值|平均\s*clv|clv\s*(的)?(平均|均值)|(终身|生命周期)价值(的)?(平均|均值)|"
     r"average (customer )?(lifetime value|clv)|mean clv|clv per customer|average predicted value", "clv_mean"),
    (r"(终身|生命周期)价值(总和|合计|总额|一共|加起来)|clv\s*(总和|合计|总额|加起来)|总\s*clv|总(的)?(终身|生命周期)价值|"
     r"total (customer )?(lifetime value|clv)|sum of (the )?clv", "clv_total"),
    (r"平均(的)?流失(概率|可能性|风险)|流失(概率|可能性)(的)?(平均|均值|平均值)|average churn (probability|risk|score)|"
     r"mean churn (probability|risk|score)|churn probability on average", "churn_probability"),
    (r"(有|存在|面临)?流失风险的?(客户|顾客|会员|用户)?(数|数量|人数|有多少|多少(位|个|人|名)?)|有?多少(位|个|名)?(客户|顾客|会员|人)?.{0,4}(有|存在)流失风险|"
     r"(高)?风险客户(数|数量|人数|有多少)|how many (customers |clients |buyers )?(are )?(at risk|likely to churn)|"
     r"number of (customers )?at[- ]risk|at[- ]risk (customer )?count|count of at[- ]risk", "at_risk_customers"),
    (r"(最近一次|最后一次|最近的一次|最新一次)(购买|下单|消费|买东西)(是)?(什么时候|哪天|哪一天|几号|的日期|日期|时间)|"
     r"when (was|did) .{0,30}(last|most recent|latest) (purchase|order)|(last|latest|most recent) (purchase|order) date|"
     r"date of the (last|latest|most recent) (purchase|order)", "last_purchase"),
    (r"(最早|第一次|第一笔|首次)(的)?(一次|一笔)?(购买|下单|订单|消费)(是)?(什么时候|哪天|哪一天|几号|的日期|日期|时间)|"
     r"when (was|did) .{0,30}(first|earliest) (purchase|order)|(first|earliest) (purchase|order) date|"
     r"date of the (first|earliest) (purchase|order)", "first_purchase"),
    (r"日均(订单|单量|下单)|平均每天(多少)?(个|笔|单)?(订单|单)|每天平均(多少)?(个|笔)?(订单|单)|(average |mean )?orders per day|daily orders|"
     r"average (number of )?orders (a|per) day", "orders_per_day"),
    (r"日均(销售额|销售|营业额|收入|流水|卖)?|平均每天(的)?(销售额|卖了?多少钱?|卖多少钱?|收入|营业额)|每天平均(销售额|卖多少钱?)|"
     r"(average|mean) daily (sales|revenue)|daily average (sales|revenue)|(sales|revenue) (a|per) day", "sales_per_day"),
    (r"(未解决|没解决|没有解决|还没(有)?(解决|处理)|待处理|未处理|未关闭|处理中|未结)的?(投诉|客诉)|(投诉|客诉).{0,6}(未解决|没解决|还没(有)?解决|待处理|未处理)|"
     r"open complaints|unresolved complaints|complaints (are )?(still )?(open|unresolved|pending)", "open_complaints"),
    (r"投诉率|客诉率|投诉比例|投诉占比|complaint rate|complaints per|rate of complaints", "complaint_rate"),
    (r"投诉(一共|总共)?有多少(条|个|起)?(?!钱)|投诉数|投诉量|多少(条|个|起)?投诉|how many complaints|number of complaints|"
     r"(most|fewest) complaints|投诉(最多|最少)|" + COMPLAINT_BY, "complaints"),
    (r"(平均)?每(个|位|一位)?(客户|顾客|会员|人)(平均)?(下|买|购买)?了?(几|多少)(单|次|笔)|人均(订单|下单|单数|购买次数)|"
     r"orders per (customer|buyer)|average (number of )?orders (per|by each) (customer|buyer)", "orders_per_customer"),
    (r"(买|购买|下单)(过)?(两|2|二)次(及)?以上|(买|购买|下单)(过)?不止一次|回头客(有)?多少|(bought|ordered|purchased) (more than once|"
     r"twice or more|again)|more than one order|how many repeat (buyers|customers)", "repurchase_rate"),
    (r"最大的?(一|单)?笔?订单|单笔(最大|最高|最多|金额最高)|最大单|最大的?一单|金额最(大|高)的.{0,3}(订单|一单|那单)|最贵的(一笔)?订单|"
     r"(biggest|largest|highest[- ]value|most expensive) (single )?(order|purchase|transaction)", "largest_order"),
    (r"平均年龄|年龄(的)?(平均|均值)|多大年纪|平均(多少|几)岁|平均多大|多大岁数|平均岁数|average age|mean age|"
     r"how old .{0,60}on average", "average_age"),
    (r"人均(消费|销售|金额|花费|贡献|客单)?|客均|平均(每人|每个人)?(消费|花费|花了?)(多少|金额)?|舍得花钱|最能花钱|(每个|每位|每一位)(客户|顾客|会员|用户)(平均)?(消费|花|买|贡献)|平均每(个|位)(客户|顾客|人)|"
     r"(sales|revenue|spend|spending|value) per (customer|buyer|head)|spends? (the )?most per (customer|head)|per[- ](customer|capita) (spend|sales|revenue|value)|"
     r"average (spend|revenue|sales) per (customer|buyer)", "sales_per_customer"),
    (r"销量|卖了多少件|买了(多少|几)件|卖出.{0,4}件|多少件|几件|件数|(?<![单户员诉人客])数量|(units?|pieces|items) sold|how many (units|pieces|items)|\bquantity\b|"
     r"\bunits\b|unit sales|volume sold", "units"),
    (r"购买间隔|复购周期|回购周期|多久(一次)?(复购|回购|买一次|下一单|再买)|间隔多少天|(隔|间隔)(多少|几)天|"
     r"多少天.{0,4}(回购|复购|再买|买一次|下一单|下单一次)|(回购|复购|购买)(间隔|频率)|purchase interval|between (purchases|orders)|"
     r"how often do customers (buy|order)|purchase cycle|days between", "purchase_interval"),
    (r"复购率|回购率|重复购买率|复购|回购|repurchase|repeat (purchase|rate|buyers?|customers?)", "repurchase_rate"),
    (r"客单价|平均订单(金额|价值|价格)?|平均每单|笔单价|average order|\baov\b|order value|basket size|average basket|"
     r"avg\.? order|spend per order", "aov"),
    # "这个月投诉比上个月多了吗", "complaints this month vs last month": their number compared (not "物流投诉…": a topic)
    (r"客诉|投诉(了)?(有)?(多少|几)(条|个|次|起)|(?:^|(?<=[的月天周年季期]))投诉(?=.{0,14}(比|环比|同比|多了|少了|增加|减少|增长|下降|涨|降|变化|趋势|走势))|"
     r"(?:^|(?<=\bof )|(?<=\bmany ))complaints\b(?=.{0,30}\b(vs\.?|versus|compared|than|trend|change|grow|grew|rise|rose|fall|fell|"
     r"up|down|more|fewer)\b)", "complaints"),
    (r"处理时长|解决时长|处理时间|解决时间|处理.{0,3}(用时|耗时|时效)|(平均|多长时间|多少天).{0,4}(处理|解决)|多久(能)?(解决|处理)|处理.{0,4}(多久|速度|效率)|resolution time|time to resolve|"
     r"how long.{0,30}(resolve|fix|close)|resolve complaints|resolution speed", "resolution_time"),
    (r"满意度|满意|平均评分|评分|打分|好评|星级|satisfaction|satisfied|csat|rating|happ(y|ier|iest|iness)", "satisfaction"),
    (r"留存|同期群|retention|cohort|retain", "retention"),
    (r"新客户|新客|新老客户|新增.{0,3}(客户|顾客|用户|会员|买家)|new (vs\.?|versus|and|or) (returning|old|existing|repeat) (customers|buyers)|新(来|进)的?(客户|顾客)|新用户|首单客户|拉新|获客(数|量|人数)|"
     r"new (customers|buyers|clients|members|signups|sign-ups)|first[- ]time (buyers|customers)|acquired|newly", "new_customers"),
    (r"订单数|订单量|多少单|多少订单|下单量|单量|单数|how many orders|number of orders|order count|order volume|orders? per", "orders"),
    (r"客户数|客户总数|总客户数|客户总量|购买客户数|买家数|顾客数|用户数|会员数|活跃客户|多少客户|多少(位|个|名)(客户|顾客|用户|会员|买家)|多少人买|人数|"
     r"(客户|顾客|买家|用户)(最多|最少|数量|规模|占比|比例|分布|构成|多吗|多不多|少吗)|(客户|顾客|会员|用户|买家)(一共|总共)?有?多少(个|位|名|人)?(?!钱|元|块|消费|销售|单|订单|件|天)|(有)?多少(个)?人(?!均)|几个人|how many \w+( \w+)? (customers|clients|buyers)|how many (customers|clients|buyers|shoppers)|number of (customers|clients|buyers)|"
     r"customer count|active customers|buyers|how many people bought", "customers"),
    (r"销售额|销售收入|营业额|营收|收入|消费金额|消费额|gmv|销量|卖了多少|业绩|卖得|卖的|sales|revenue|turnover|sold|takings|income|"
     r"how much did we (sell|make)|销售|买了多少钱|花了多少|消费了多少|贡献了?多少|一共花|\bspen[dt]\b|"
     # "冠军客户上个月买了多少咖啡", "how much coffee did Champions buy": the sales of that item
     r"买了?多少(?!件|次|单|笔|人|位|个|天|回)|how much (?:\w+ ){1,4}did (?:\w+ ){1,4}(buy|purchase|order)", "sales"),
    (r"订单|单子|\borders\b", "orders"),
]
METRIC_WORDS = [(re.compile(p, re.I | re.ASCII), m) for p, m in METRIC_WORDS]
# what a group likes to buy ("冠军客户最喜欢买什么", "冠军客户最近都买了什么", "what do Champions like to buy"): its
# sales by category — not "还喜欢买什么" (bought together), not the people who buy an item
PREFERENCE_WORDS = (r"(?<!还)(喜欢|爱|常|经常|一般|通常|最常|都)买(了)?(些)?(什么|啥)|买(什么|啥)(最多|比较多)|"
                    r"what (do|did|does) (?!(?:people|customers|they) who)\w+(?: \w+){0,3} (like to|usually|mostly|most often) (buy|purchase|order)|"
                    r"what (do|did|does) \w+(?: \w+){0,3} (buy|purchase|order) (the )?most|买(得|的)最多的是(什么|啥|哪些)")
PREFERENCE = re.compile(PREFERENCE_WORDS, re.I)
# (pattern, dimension): the first match names the breakdown
DIMENSION_WORDS: list[tuple[str, str]] = [
    (r"新老(客户|顾客|客)|新客户?(和|与|跟|及|vs\.?|还是|、|对比)老客户?|老客户?(和|与|跟|及|vs\.?|还是|、|对比)新客户?|"
     r"new (vs\.?|versus|and|or) (returning|existing|old|repeat) (customers|buyers)|(returning|existing|repeat) (vs\.?|versus|and|or) new "
     r"(customers|buyers)|new and returning", "customer_type"),
    (r"每个?季度|各季度|按季度|分季度|季度(趋势|走势|对比|变化)|哪(个|一)季度|\bquarterly\b|by quarter|per quarter|each quarter|"
     r"which quarter|(best|worst|busiest|strongest|weakest) quarter", "quarter"),
    (r"(每一?年|各年|按年|逐年|分年|历年)(?!龄|纪)|哪一?年(?!龄|纪|的)|\byearly\b|by year|per year|each year|year by year|which year|"
     r"(best|worst|busiest|strongest|weakest) year", "year"),
    (r"星期几|周几|每周几|周末(和|与|跟|还是|vs)工作日|工作日(和|与|跟|还是|vs)周末|by weekday|day of (the )?week|\bweekdays?\b", "weekday"),
    (r"哪个(分群|客群|分层)|各(个)?(分群|客群|分层)|按(分群|客群)|分群(对比|排名)|\b(by|per|which|each) (rfm )?segments?\b",
     "segment"),
    (r"哪些商品|哪个商品|哪款商品|哪几款|什么商品|哪些产品|哪个产品|商品(排名|排行|榜)|产品(排名|排行|榜)|(最|比较)?(畅销|热销|好卖)的?(?!.{0,6}(品类|类目|类别|分类))(商品|产品)?|爆款|"
     r"(最)?受欢迎的?(商品|产品|东西)|most popular (products?|items?)|popular products|"
     r"卖得(最)?好的(?!.{0,6}(品类|类目|类别|分类)).{0,6}(商品|产品|东西)?|卖得最多的.{0,6}(商品|产品)|(前|top)\s*[\d一二三四五六七八九十]+.{0,4}(个|款)?(商品|产品)|"
     r"哪(款|个|些|几款)(产品|商品)|(商品|产品)[^，。]{0,6}(最高|最多|最好|排名)|"
     r"(销量|销售额|业绩|卖得)(最)?(好|高|多|差|低|少)的.{0,6}(商品|产品)|最(好|高|多|差|低|少)的\s*\d*\s*(个|款)?(商品|产品)|"
     r"\b(top|best|worst)[- ]?(\d+ )?(selling )?products?\b|best[- ]sellers?|best[- ]selling|by product|per product|"
     r"which products?(?!\s*(categor|lines?\b|types?\b))|products? (rank|ranking)", "product"),
    (r"趋势|走势|月度|每月|按月|逐月|每个月|各月|分月|月份|哪(个|一个|一)月|trend|monthly|by month|per month|month by month|over time|"
     r"each month|which month|(best|worst|busiest|strongest|weakest|biggest|slowest) month", "month"),
    (r"各省|按省|分省|省份|哪个省|哪些省|哪几个省|每个省|by province|per province|which province|across provinces|provinces|各地区|按地区|by region|"
     r"which region|regions|(each|every) (province|region)", "province"),
    (r"各城市|按城市|分城市|哪个城市|哪些城市|每个城市|各市|城市|by city|per city|which city|which cities|cities|(each|every) city", "city"),
    (r"性别|男女|男性|女性|男客户|女客户|男顾客|女顾客|男士|女士|男生|女生|男的|女的|by gender|gender|\b(wo)?men\b|\bladies\b|"
     r"male|female", "gender"),
    (r"年龄段|年龄|岁|[0-9零〇一二三四五六七八九]0后|by age|age group|age band|age bracket|\bages?\b|year[- ]olds?|"
     r"\b(gen z|millennials|boomers)\b", "age_band"),
    (r"下单渠道|销售渠道|平台|order channel|sales channel|platform", "order_channel"),
    (r"反馈渠道|feedback channel", "feedback_channel"),
    (r"获客渠道|来源渠道|渠道|acquisition|channel|source", "channel"),
    (r"品类|类目|类别|分类|哪类商品|by category|per category|category|categories|product line|" + PREFERENCE_WORDS, "category"),
    (r"会员等级|会员级别|会员层级|(?<!风险)等级|membership (level|tier)s?|member levels?|loyalty levels?|by level", "level"),
    (r"行业|\bindustry\b|\bindustries\b|\bsectors?\b", "industry"),
    (r"哪一?天|那一?天|哪个日子|每一?天的|每日|逐日|按天|按日|\bby day\b|\bdaily\b|which day|what day|best day|busiest day|"
     r"single day", "day"),
]
DIMENSION_WORDS = [(re.compile(p, re.I | re.ASCII), b) for p, b in DIMENSION_WORDS]
