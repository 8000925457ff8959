"""The canonical CRM schema: tables, columns, types and accepted header aliases.

This module is the one place the schema is documented; `docs/SCHEMA.md` is generated
from it (`guanxi schema`). Types: ``str``, ``date`` (calendar day), ``datetime``,
``int``, ``float``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # str | date | datetime | int | float
    required: bool
    description: str
    aliases: tuple[str, ...] = ()

    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    # Columns identifying a file as this table when headers are matched (any 2 of them).
    signature: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = Column

CUSTOMERS = Table(
    "customers",
    "One row per customer.",
    (
        C("customer_id", "str", True, "Customer identifier",
          ("客户编号", "客户ID", "客户id", "客户号", "会员编号", "会员ID", "会员id", "用户ID", "用户id",
           "customerid", "customer id", "customer_no", "cust_id", "client_id", "member_id", "客户编码", "会员卡号")),
        C("name", "str", True, "Customer name",
          ("姓名", "客户姓名", "客户名称", "会员姓名", "名字", "customer_name", "full_name", "customer name")),
        C("gender", "str", False, "F / M (女/男 are unified to F/M)",
          ("性别", "sex")),
        C("birthday", "date", False, "Date of birth",
          ("生日", "出生日期", "出生年月日", "birth_date", "date_of_birth", "dob", "birthdate")),
        C("phone", "str", False, "Mobile phone, normalised to digits (+86 prefix removed for CN mobiles)",
          ("手机", "手机号", "手机号码", "电话", "联系电话", "mobile", "telephone", "tel", "phone_number")),
        C("email", "str", False, "E-mail address, lower-cased",
          ("邮箱", "电子邮箱", "电子邮件", "e-mail", "mail", "email_address")),
        C("city", "str", False, "City (e.g. 杭州市 / Hangzhou)", ("城市", "所在城市", "市")),
        C("province", "str", False, "Province (e.g. 浙江省)", ("省份", "省", "所在省份", "state", "region", "country")),
        C("channel", "str", False, "Acquisition channel (where the customer came from)",
          ("来源渠道", "获客渠道", "渠道", "注册渠道", "source", "acquisition_channel")),
        C("signup_date", "date", False, "Date the customer registered",
          ("注册日期", "注册时间", "开户日期", "入会日期", "signup", "registration_date", "created_at", "join_date")),
        C("industry", "str", False, "Industry (B2B customers)", ("行业", "所属行业")),
        C("level", "str", False, "Membership level", ("会员等级", "等级", "客户等级", "tier", "member_level")),
        C("tags", "str", False, "Free tags, separated by ';'", ("标签", "客户标签", "tag")),
        C("opt_out", "str", False, "Opted out of marketing messages: yes / 1 / true / 是 / 拒收 / 退订 mean opted out "
          "(a campaign never targets them)",
          ("拒收", "退订", "拒收营销", "拒收短信", "是否退订", "是否拒收", "免打扰", "opt-out", "optout", "opted_out",
           "unsubscribed", "do_not_contact", "dnc")),
    ),
    signature=("customer_id", "name", "birthday", "phone", "email", "gender", "signup_date"),
)

PRODUCTS = Table(
    "products",
    "One row per product.",
    (
        C("product_id", "str", True, "Product identifier",
          ("商品编号", "商品ID", "商品id", "产品编号", "产品ID", "产品id", "货号", "SKU", "sku", "stockcode",
           "stock_code", "item_id", "商品编码", "产品编码")),
        C("name", "str", True, "Product name",
          ("商品名称", "产品名称", "品名", "商品名", "product_name", "description", "item_name", "title")),
        C("category", "str", False, "Category",
          ("品类", "类别", "商品类别", "商品分类", "分类", "类目", "product_category")),
        C("price", "float", False, "List unit price",
          ("价格", "单价", "售价", "标价", "unit_price", "list_price")),
    ),
    signature=("product_id", "name", "category", "price"),
)

ORDERS = Table(
    "orders",
    "One row per order line. A missing order_id is derived from customer + date; a missing "
    "amount is quantity × unit_price; a missing quantity is 1.",
    (
        C("order_id", "str", True, "Order identifier (derived as <customer_id>-<YYYYMMDD> when absent)",
          ("订单编号", "订单号", "订单ID", "订单id", "单号", "invoiceno", "invoice_no", "invoice", "order_no",
           "orderid", "订单编码")),
        C("customer_id", "str", True, "Customer identifier",
          ("客户编号", "客户ID", "客户id", "客户号", "会员编号", "会员ID", "会员id", "用户ID", "用户id",
           "customerid", "customer id", "cust_id", "client_id", "member_id", "customer_no", "客户编码", "会员卡号")),
        C("order_date", "datetime", True, "Order time",
          ("下单时间", "订单日期", "下单日期", "订单时间", "购买日期", "购买时间", "交易日期", "交易时间", "日期",
           "invoicedate", "invoice_date", "date", "order_time", "purchase_date", "transaction_date")),
        C("product_id", "str", False, "Product identifier (or give product_name)",
          ("商品编号", "商品ID", "商品id", "产品编号", "产品ID", "产品id", "货号", "SKU", "sku", "stockcode",
           "stock_code", "item_id", "商品编码", "产品编码")),
        C("product_name", "str", False, "Product name (filled from products when absent)",
          ("商品名称", "产品名称", "品名", "商品名", "商品", "description", "item_name", "product")),
        C("category", "str", False, "Product category (filled from products when absent)",
          ("品类", "类别", "商品类别", "商品分类", "分类", "类目", "product_category")),
        C("quantity", "int", True, "Units on the line (1 when absent)",
          ("数量", "购买数量", "件数", "qty", "number_of_cds", "units")),
        C("unit_price", "float", False, "Unit price", ("单价", "价格", "售价", "unitprice", "price")),
        C("amount", "float", True, "Line total paid (quantity × unit_price when absent)",
          ("金额", "实付金额", "订单金额", "成交金额", "支付金额", "消费金额", "总价", "小计", "sales", "revenue",
           "total", "line_total", "dollar_value", "payment")),
        C("channel", "str", False, "Sales channel of the order",
          ("渠道", "下单渠道", "销售渠道", "平台", "店铺", "sales_channel", "store", "platform")),
    ),
    signature=("order_id", "order_date", "amount", "quantity", "unit_price"),
)

FEEDBACK = Table(
    "feedback",
    "One row per feedback item (complaint, suggestion, praise or inquiry).",
    (
        C("feedback_id", "str", True, "Feedback identifier",
          ("反馈编号", "反馈ID", "反馈id", "工单号", "工单编号", "投诉编号", "ticket_id", "case_id", "id")),
        C("customer_id", "str", False, "Customer identifier",
          ("客户编号", "客户ID", "客户id", "客户号", "会员编号", "会员ID", "会员id", "用户ID", "用户id",
           "customerid", "cust_id", "customer_no", "client_id", "member_id", "客户编码", "会员卡号")),
        C("created_at", "datetime", True, "When the feedback was received",
          ("反馈时间", "投诉时间", "创建时间", "提交时间", "日期", "date", "created", "submitted_at", "created_time")),
        C("channel", "str", False, "Where it came in (电话, 微信, App, email, ...)",
          ("渠道", "反馈渠道", "来源", "source")),
        C("kind", "str", False, "complaint / suggestion / praise / inquiry (投诉/建议/表扬/咨询 are unified)",
          ("类型", "反馈类型", "工单类型", "type", "feedback_type")),
        C("product_id", "str", False, "Product concerned",
          ("商品编号", "商品ID", "商品id", "产品编号", "产品ID", "产品id", "sku", "商品编码", "产品编码", "货号")),
        C("category", "str", False, "Category concerned", ("品类", "类别", "商品类别", "分类", "类目", "product_category")),
        C("rating", "float", False, "Rating 1-5", ("评分", "星级", "满意度", "score", "stars")),
        C("text", "str", True, "The customer's words",
          ("内容", "反馈内容", "投诉内容", "评价内容", "正文", "描述", "content", "comment", "review", "message",
           "body", "description")),
        C("status", "str", False, "open / resolved (处理中/未处理/已解决/已处理 are unified)",
          ("状态", "处理状态", "工单状态", "state")),
        C("resolution", "str", False, "How it was resolved", ("处理结果", "解决方案", "处理方案", "处理意见", "回复")),
        C("resolved_at", "datetime", False, "When it was resolved",
          ("解决时间", "处理时间", "关闭时间", "closed_at", "resolved_time")),
    ),
    signature=("feedback_id", "text", "kind", "status", "resolution", "rating"),
)

TABLES: dict[str, Table] = {t.name: t for t in (CUSTOMERS, PRODUCTS, ORDERS, FEEDBACK)}

# Value vocabularies the cleaner unifies to.
KINDS = ("complaint", "suggestion", "praise", "inquiry")
STATUSES = ("open", "resolved")


def normalise_header(h: object) -> str:
    """Header as compared against aliases: trimmed, lower-case, spaces/dashes as '_'."""
    s = str(h).replace("\ufeff", "").strip().lower()
    for ch in (" ", "-", "　"):
        s = s.replace(ch, "_")
    return s


def schema_markdown() -> str:
    """The schema as Markdown (docs/SCHEMA.md is this text)."""
    out = ["# Guanxi canonical schema", "",
           "Generated from `knowledge/schema.py` (`guanxi schema`). Header matching ignores case, "
           "surrounding spaces and space/dash/underscore differences.", ""]
    for t in TABLES.values():
        out += [f"## {t.name}", "", t.description, "",
                "| column | type | required | accepted headers | meaning |",
                "|---|---|---|---|---|"]
        for c in t.columns:
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | "
                       f"{', '.join(c.all_names())} | {c.description} |")
        out.append("")
    return "\n".join(out)
