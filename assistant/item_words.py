"""English (and a few colloquial Chinese) item words and the Chinese words of product names and categories
they stand for ("oat milk" → 燕麦奶, "cold brew" → 冷萃): `Vocabulary.find_item` tries them, longest first,
against the workspace's catalogue, so a word whose Chinese is in no product name names nothing."""
from __future__ import annotations

__all__ = ["EN_ZH_ITEMS", "EN_ZH_ALT"]

#: English word → the Chinese word of a category or inside product names
EN_ZH_ITEMS = {
    "green tea": "绿茶", "black tea": "红茶", "red tea": "红茶", "oolong": "乌龙茶", "oolong tea": "乌龙茶",
    "pu'er": "普洱", "puer": "普洱", "pu-erh": "普洱", "white tea": "白茶", "jasmine tea": "茉莉花茶",
    "longjing": "龙井", "dragon well": "龙井", "tea set": "茶具", "teaware": "茶具", "tea": "茶",
    "coffee": "咖啡", "coffee beans": "咖啡豆", "instant coffee": "速溶咖啡", "milk": "牛奶", "yogurt": "酸奶",
    "snacks": "零食", "snack": "零食", "nuts": "坚果", "dried fruit": "果干", "chocolate": "巧克力",
    "candy": "糖果", "biscuits": "饼干", "cookies": "饼干", "cake": "蛋糕", "mooncake": "月饼", "mooncakes": "月饼",
    "rice": "大米", "noodles": "面条", "oil": "食用油", "cooking oil": "食用油", "seasoning": "调味品",
    "condiments": "调味品", "soy sauce": "酱油", "vinegar": "醋", "wine": "葡萄酒", "red wine": "红酒",
    "liquor": "白酒", "baijiu": "白酒", "beer": "啤酒", "drinks": "饮料", "beverages": "饮料", "juice": "果汁",
    "water": "矿泉水", "fruit": "水果", "fresh fruit": "生鲜水果", "vegetables": "蔬菜", "meat": "肉", "seafood": "海鲜",
    "frozen food": "冷冻食品", "honey": "蜂蜜", "health supplements": "保健品", "supplements": "保健品",
    "vitamins": "维生素", "skincare": "护肤", "skin care": "护肤", "cosmetics": "彩妆", "makeup": "彩妆",
    "lipstick": "口红", "perfume": "香水", "shampoo": "洗发水", "personal care": "个人护理", "mask": "面膜",
    "face mask": "面膜", "clothing": "服装", "clothes": "服装", "apparel": "服装", "shoes": "鞋", "bags": "箱包",
    "bag": "包", "handbag": "手提包", "luggage": "箱包", "accessories": "配饰", "jewelry": "珠宝", "watch": "手表",
    "watches": "手表", "electronics": "数码", "digital": "数码", "phone": "手机", "phones": "手机",
    "headphones": "耳机", "earphones": "耳机", "charger": "充电器", "power bank": "充电宝", "laptop": "笔记本电脑",
    "tablet": "平板", "camera": "相机", "appliances": "家电", "home appliances": "家电", "kitchen": "厨房",
    "kitchenware": "厨具", "cookware": "厨具", "home": "家居", "home goods": "家居", "furniture": "家具",
    "bedding": "床上用品", "towel": "毛巾", "cleaning": "清洁", "household": "日用品", "daily necessities": "日用品",
    "baby": "母婴", "mother and baby": "母婴", "diapers": "纸尿裤", "formula": "奶粉", "milk powder": "奶粉",
    "toys": "玩具", "books": "图书", "stationery": "文具", "sports": "运动", "outdoor": "户外", "fitness": "健身",
    "pet": "宠物", "pet supplies": "宠物用品", "pet food": "宠物食品", "gift": "礼品", "gift box": "礼盒",
    "gifts": "礼品", "flowers": "鲜花", "stationary": "文具",
}


#: more Chinese words to try for an English item word (categories are named differently per shop)
EN_ZH_ALT = {
    "dairy": ("乳制品", "奶"), "dairy products": ("乳制品",), "milk": ("牛奶", "奶", "乳制品"), "drinks": ("饮料", "酒水"),
    "beverages": ("饮料", "酒水"), "alcohol": ("酒",), "wine": ("葡萄酒", "红酒", "酒"), "cooking oil": ("食用油", "油", "粮油"),
    "grain and oil": ("粮油",), "grains": ("粮油", "米"), "seasoning": ("调味",), "condiments": ("调味",),
    "fresh fruit": ("生鲜水果", "水果"), "fruit": ("水果", "生鲜"), "fresh food": ("生鲜",), "beauty": ("美妆", "个护"),
    "cosmetics": ("美妆", "彩妆"), "makeup": ("美妆", "彩妆"), "skincare": ("护肤", "个护"), "skin care": ("护肤", "个护"),
    "personal care": ("个护", "个人护理"), "baby": ("母婴",), "baby products": ("母婴",), "mother and baby": ("母婴",),
    "household cleaning": ("家居清洁", "清洁"), "cleaning": ("清洁",), "cleaning products": ("清洁",),
    "home cleaning": ("家居清洁",), "household": ("家居", "日用"), "kitchen": ("厨房",), "kitchenware": ("厨房用品", "厨具"),
    "cookware": ("厨具", "锅", "厨房"), "digital accessories": ("数码配件", "数码"), "electronics": ("数码", "电子"),
    "gadgets": ("数码",), "accessories": ("配件", "配饰"), "clothing": ("服饰", "服装"), "clothes": ("服饰", "服装"),
    "apparel": ("服饰", "服装"), "fashion": ("服饰",), "books": ("图书",), "stationery": ("文具", "图书文具"),
    "books and stationery": ("图书文具",), "health supplements": ("保健品",), "supplements": ("保健品",),
    "health products": ("保健品",), "vitamins": ("维生素", "保健品"), "snacks": ("零食",), "snack": ("零食",),
    "coffee": ("咖啡",), "coffee beans": ("咖啡豆",), "tea": ("茶叶", "茶"), "green tea": ("绿茶",), "black tea": ("红茶",),
    "nuts": ("坚果",), "instant noodles": ("面",), "noodles": ("面",), "rice": ("大米", "米"), "yogurt": ("酸奶",),
    "tea set": ("茶具",), "teaware": ("茶具",), "pu'er": ("普洱",), "puer": ("普洱",), "oolong": ("乌龙",),
    "white tea": ("白茶",), "chocolate": ("巧克力",), "juice": ("果汁", "橙汁"),
}


#: words of the products themselves (what a shop's product names hold), beyond the categories above
EN_ZH_ITEMS.update({
    # drinks, coffee, tea
    "oat milk": "燕麦奶", "latte": "拿铁", "lattes": "拿铁", "cold brew": "冷萃", "espresso": "意式", "mocha": "摩卡",
    "capsule coffee": "胶囊咖啡", "coffee capsules": "胶囊咖啡", "drip coffee": "挂耳咖啡", "decaf": "低因",
    "tieguanyin": "铁观音", "jasmine": "茉莉", "dark tea": "黑茶", "herbal tea": "凉茶", "barley tea": "大麦茶",
    "coconut water": "椰子水", "sparkling water": "气泡水", "soda water": "苏打水", "mineral water": "矿泉水",
    "cola": "可乐", "coke": "可乐", "energy drinks": "功能饮料", "energy drink": "功能饮料", "orange juice": "橙汁",
    "whisky": "威士忌", "whiskey": "威士忌", "rice wine": "米酒", "yellow wine": "黄酒", "huangjiu": "黄酒",
    "craft beer": "精酿啤酒", "plum wine": "青梅酒",
    # dairy, fresh food, groceries
    "fresh milk": "鲜牛奶", "cheese": "奶酪", "butter": "黄油", "cream": "奶油", "eggs": "鸡蛋", "egg": "鸡蛋",
    "salmon": "三文鱼", "steak": "牛排", "shrimp": "虾", "prawns": "虾", "crab": "蟹", "hairy crab": "大闸蟹",
    "pork": "猪肉", "beef jerky": "牛肉干", "durian": "榴莲", "mango": "芒果", "mangoes": "芒果", "strawberries": "草莓",
    "strawberry": "草莓", "cherries": "车厘子", "blueberries": "蓝莓", "kiwi": "猕猴桃", "kiwifruit": "猕猴桃",
    "oranges": "橙", "apples": "苹果", "grapes": "葡萄", "lychee": "荔枝", "lychees": "荔枝", "avocado": "牛油果",
    "avocados": "牛油果", "coconut": "椰", "red dates": "红枣", "jujube": "红枣", "goji": "枸杞", "goji berries": "枸杞",
    "flour": "面粉", "millet": "小米", "olive oil": "橄榄油", "peanut oil": "花生油", "sesame oil": "芝麻油",
    "hot pot": "火锅", "hotpot": "火锅", "luosifen": "螺蛳粉", "bread": "面包",
    # snacks
    "chips": "薯片", "crisps": "薯片", "popcorn": "爆米花", "pistachios": "开心果", "macadamia": "夏威夷果",
    "pecans": "碧根果", "peanuts": "花生", "seaweed": "海苔", "dried mango": "芒果干", "crackers": "饼干",
    # health
    "fish oil": "鱼油", "protein powder": "蛋白粉", "whey protein": "乳清蛋白", "collagen": "胶原蛋白",
    "probiotics": "益生菌", "melatonin": "褪黑素", "calcium": "钙", "ginseng": "人参", "bird's nest": "燕窝",
    # baby, personal care, home
    "infant formula": "奶粉", "baby formula": "奶粉", "wipes": "湿巾", "baby wipes": "湿巾", "stroller": "推车",
    "car seat": "安全座椅", "toothpaste": "牙膏", "toothbrush": "牙刷", "electric toothbrush": "电动牙刷",
    "conditioner": "护发素", "body wash": "沐浴露", "shower gel": "沐浴露", "body lotion": "身体乳",
    "sunscreen": "防晒", "face cream": "面霜", "toner": "爽肤水", "serum": "精华", "eye cream": "眼霜",
    "cleanser": "洗面奶", "hand cream": "护手霜", "laundry detergent": "洗衣液", "dish soap": "洗洁精",
    "toilet paper": "卷纸", "tissues": "抽纸", "trash bags": "垃圾袋", "garbage bags": "垃圾袋", "mop": "拖把",
    "robot vacuum": "扫地机器人", "air fryer": "空气炸锅", "rice cooker": "电饭煲", "kettle": "电热水壶",
    "blender": "料理机", "oven": "电烤箱", "wok": "炒锅", "cutting board": "砧板", "mug": "马克杯", "mugs": "马克杯",
    "thermos": "保温杯", "candles": "蜡烛",
    # digital, books, clothing
    "earbuds": "蓝牙耳机", "keyboard": "键盘", "mouse": "鼠标", "smartwatch": "智能手表", "smart watch": "智能手表",
    "phone case": "手机壳", "usb cable": "数据线", "data cable": "数据线", "hard drive": "移动硬盘",
    "smart speaker": "智能音箱", "calculator": "计算器", "dictionary": "词典", "notebooks": "笔记本",
    "t-shirt": "T 恤", "t-shirts": "T 恤", "jeans": "牛仔裤", "hoodie": "卫衣", "hoodies": "卫衣", "down jacket": "羽绒服",
    "socks": "袜", "scarf": "围巾", "dress": "连衣裙", "running shoes": "跑步鞋", "sneakers": "帆布鞋",
})
