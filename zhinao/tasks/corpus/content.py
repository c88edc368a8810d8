"""Sentence banks for the sample crawl: templates per topic in English and Chinese, with slots.

Slots ({city}, {name}, {num}, {year}, {org}, {thing}) are filled at random so that pages on the same
topic share vocabulary (as real topical pages do) without being near-duplicates of each other.
"""
from __future__ import annotations

SLOTS = {
    "en": {
        "city": ["Shanghai", "Boston", "Shenzhen", "Manchester", "Hangzhou", "Toronto", "Chengdu", "Melbourne",
                 "Nanjing", "Denver", "Wuhan", "Seattle", "Xi'an", "Lyon", "Qingdao", "Austin"],
        "name": ["Dr. Helen Park", "Professor James Liu", "Maria Gonzalez", "Tom Becker", "Aisha Khan",
                 "Robert Chen", "Sophie Martin", "David Okafor", "Laura Smith", "Kenji Watanabe"],
        "org": ["the city council", "a regional hospital", "the national library", "a local start-up",
                "the university's engineering school", "an independent research institute",
                "the provincial bureau of statistics", "a community foundation"],
        "thing": ["solar panels", "electric buses", "reading programmes", "water filters", "open-source tools",
                  "rice varieties", "bike lanes", "weather sensors", "vaccination clinics", "data centres"],
    },
    "zh": {
        "city": ["上海", "北京", "深圳", "杭州", "成都", "武汉", "南京", "西安", "广州", "青岛", "苏州", "重庆",
                 "长沙", "天津", "厦门", "昆明"],
        "name": ["王教授", "李医生", "张老师", "陈工程师", "刘记者", "赵研究员", "孙经理", "周律师", "吴同学", "郑主任"],
        "org": ["市政府", "一家地方医院", "国家图书馆", "一家初创企业", "大学工程学院", "一家独立研究所",
                "省统计局", "一家社区基金会"],
        "thing": ["太阳能电池板", "电动公交车", "阅读项目", "净水设备", "开源工具", "水稻新品种", "自行车道",
                  "气象传感器", "疫苗接种点", "数据中心"],
    },
}

TOPICS: dict[str, dict[str, list[str]]] = {
    "news": {
        "en": ["Officials in {city} announced on Monday that {num} new {thing} would be installed before the end of {year}.",
               "{name} told reporters that {org} had received more than {num} complaints in the past month.",
               "The decision follows a public consultation in {city} that ran for {num} days and drew wide interest.",
               "Critics argue that {org} moved too quickly, while supporters say the plan is long overdue.",
               "A spokesperson for {org} said further details would be published in {year}."],
        "zh": ["{city}有关部门周一宣布，将在{year}年底前新增{num}套{thing}。",
               "{name}对记者表示，{org}过去一个月共收到{num}多条投诉。",
               "这一决定是在{city}为期{num}天的公开征求意见之后作出的，引起了广泛关注。",
               "批评者认为{org}的行动过于仓促，而支持者则表示这项计划早就应该推出。",
               "{org}的发言人说，更多细节将于{year}年公布。"],
    },
    "finance": {
        "en": ["Shares of companies making {thing} rose {num} percent after quarterly earnings beat forecasts.",
               "{name}, an analyst in {city}, expects interest rates to stay unchanged until {year}.",
               "Household savings reached a record level as consumers in {city} delayed large purchases.",
               "The central bank said inflation remained within its target band for the {num}th month in a row.",
               "Investors are watching bond yields closely, according to a note published by {org}."],
        "zh": ["生产{thing}的公司季度业绩超出预期，股价上涨了{num}%。",
               "{city}的分析师{name}预计，利率将在{year}年前保持不变。",
               "由于{city}的消费者推迟大额消费，居民储蓄创下历史新高。",
               "央行表示，通货膨胀率已连续{num}个月保持在目标区间内。",
               "据{org}发布的报告，投资者正在密切关注债券收益率的变化。"],
    },
    "law": {
        "en": ["The court in {city} ruled that the contract was void because key terms had never been agreed.",
               "{name}, who represented the plaintiffs, said the judgment sets a precedent for {thing}.",
               "Under the revised statute, tenants must receive at least {num} days' written notice.",
               "Legal scholars at {org} noted that the appeal could reach the supreme court by {year}.",
               "The regulation clarifies who is liable when {thing} cause damage to third parties."],
        "zh": ["{city}法院裁定该合同无效，因为双方从未就关键条款达成一致。",
               "代理原告的{name}表示，这一判决为{thing}相关案件树立了先例。",
               "根据修订后的法规，房东必须至少提前{num}天书面通知租户。",
               "{org}的法学学者指出，该上诉案可能在{year}年提交最高法院。",
               "该条例明确了{thing}对第三方造成损害时由谁承担责任。"],
    },
    "medicine": {
        "en": ["A study of {num} patients in {city} found that regular exercise lowered blood pressure significantly.",
               "{name} recommends that adults over fifty discuss screening options with their doctor.",
               "Researchers at {org} reported that the new treatment shortened recovery time by {num} days.",
               "Symptoms usually include fever, fatigue and a persistent cough lasting more than a week.",
               "Health authorities plan to open {num} more {thing} across the region by {year}."],
        "zh": ["{city}一项针对{num}名患者的研究发现，规律运动能显著降低血压。",
               "{name}建议五十岁以上的成年人与医生讨论筛查方案。",
               "{org}的研究人员报告称，新疗法使康复时间缩短了{num}天。",
               "常见症状包括发热、乏力以及持续一周以上的咳嗽。",
               "卫生部门计划在{year}年前在全区再开设{num}个{thing}。"],
    },
    "education": {
        "en": ["Schools in {city} will introduce {thing} for pupils aged eight to twelve from next autumn.",
               "{name} said that small-group tutoring raised reading scores by {num} points in one term.",
               "The curriculum reform gives teachers more freedom to design projects around local history.",
               "Enrollment at {org} grew for the {num}th consecutive year despite rising tuition fees.",
               "Parents can register for the free evening classes online until the end of {year}."],
        "zh": ["{city}的学校将从明年秋季开始为八至十二岁的学生引入{thing}。",
               "{name}表示，小组辅导使学生的阅读成绩在一个学期内提高了{num}分。",
               "课程改革让教师有更多自由围绕本地历史设计项目式学习。",
               "尽管学费上涨，{org}的招生人数已连续{num}年增长。",
               "家长可以在{year}年底前通过网络报名参加免费的夜间课程。"],
    },
    "science": {
        "en": ["Astronomers using a telescope near {city} detected {num} previously unknown objects in the outer solar system.",
               "{name} explained that the experiment measures how quickly ice melts under different pressures.",
               "The team at {org} published its results after {num} months of independent peer review.",
               "Data from {thing} suggest that the local climate has warmed faster than the global average.",
               "The researchers hope to repeat the measurement with more sensitive instruments in {year}."],
        "zh": ["天文学家利用{city}附近的望远镜，在外太阳系发现了{num}个此前未知的天体。",
               "{name}解释说，该实验测量的是冰在不同压力下融化的速度。",
               "{org}的团队在经过{num}个月的独立同行评审后发表了研究结果。",
               "来自{thing}的数据表明，当地气候变暖的速度快于全球平均水平。",
               "研究人员希望在{year}年用更灵敏的仪器重复这项测量。"],
    },
    "math": {
        "en": ["To solve the equation, subtract {num} from both sides and then divide by the coefficient of x.",
               "{name} showed that the sum of the first n odd numbers is always a perfect square.",
               "A triangle with sides three, four and five is a right triangle by the Pythagorean theorem.",
               "The probability of rolling two sixes with fair dice is one in thirty-six.",
               "Students at {org} practised {num} problems on derivatives before the exam."],
        "zh": ["解这个方程时，先在等式两边同时减去{num}，再除以x的系数。",
               "{name}证明了前n个奇数之和总是一个完全平方数。",
               "根据勾股定理，边长为三、四、五的三角形是直角三角形。",
               "用两个均匀的骰子同时掷出两个六点的概率是三十六分之一。",
               "{org}的学生在考试前练习了{num}道求导题。"],
    },
    "code": {
        "en": ["The function reads the configuration file and returns a dictionary of settings.",
               "{name} recommends writing unit tests before refactoring any module that handles payments.",
               "Version {num}.0 of the library adds type hints and drops support for old interpreters.",
               "When the cache is full, the least recently used entry is evicted first.",
               "The team at {org} migrated {num} services to the new build system in {year}."],
        "zh": ["该函数读取配置文件，并返回一个包含各项设置的字典。",
               "{name}建议在重构任何处理支付的模块之前先编写单元测试。",
               "该库的{num}.0版本增加了类型注解，并停止支持旧版解释器。",
               "当缓存已满时，最近最少使用的条目会被优先淘汰。",
               "{org}的团队在{year}年将{num}个服务迁移到了新的构建系统。"],
    },
    "sports": {
        "en": ["The home side in {city} won {num} to one after a late goal in the second half.",
               "{name} finished the marathon in just over two hours, a personal best.",
               "Ticket sales for the final reached {num} thousand within an hour of release.",
               "The coach said the team would focus on defence before the next match.",
               "{org} will host the regional championships in {year}."],
        "zh": ["{city}主队在下半场补时阶段打进一球，最终以{num}比一获胜。",
               "{name}以略高于两小时的成绩跑完马拉松，创造了个人最好成绩。",
               "决赛门票开售一小时内售出{num}千张。",
               "主教练表示，球队将在下一场比赛前重点加强防守。",
               "{org}将于{year}年主办地区锦标赛。"],
    },
    "travel": {
        "en": ["Visitors to {city} should try the night market near the old harbour.",
               "{name} suggests booking train tickets at least {num} days in advance during holidays.",
               "The museum is open from nine to five and closed on Mondays.",
               "A three-day itinerary can cover the temples, the river walk and the hill park.",
               "Hotels in {city} reported {num} percent occupancy over the festival."],
        "zh": ["到{city}旅游的游客一定要去老港口附近的夜市看看。",
               "{name}建议节假日期间至少提前{num}天预订火车票。",
               "博物馆每天九点至十七点开放，周一闭馆。",
               "三天的行程可以游览寺庙、沿江步道和山顶公园。",
               "节日期间{city}的酒店入住率达到了{num}%。"],
    },
    "food": {
        "en": ["Stir-fry the garlic for {num} seconds before adding the sliced vegetables.",
               "{name} opened a small noodle shop in {city} that now serves {num} bowls a day.",
               "The recipe uses soy sauce, a little sugar and a splash of rice vinegar.",
               "Let the dough rest for thirty minutes so that the dumplings are easier to fold.",
               "Food critics from {org} praised the restaurant's seasonal menu."],
        "zh": ["先将蒜末翻炒{num}秒，再加入切好的蔬菜。",
               "{name}在{city}开了一家小面馆，现在每天能卖出{num}碗面。",
               "这道菜需要酱油、少许白糖和一点米醋。",
               "面团要醒三十分钟，这样饺子更容易包。",
               "{org}的美食评论家称赞了这家餐厅的时令菜单。"],
    },
    "games": {
        "en": ["The new strategy game lets players build cities and trade resources with {num} rival factions.",
               "{name} won the online tournament after a tense final round.",
               "The update fixes {num} bugs and adds a cooperative mode for up to four players.",
               "Reviewers praised the art style but criticised the short campaign.",
               "The studio in {city} plans to release a sequel in {year}."],
        "zh": ["这款新策略游戏让玩家建造城市，并与{num}个敌对势力进行资源交易。",
               "{name}在紧张的决赛中赢得了线上比赛的冠军。",
               "此次更新修复了{num}个错误，并加入了最多四人的合作模式。",
               "评测者称赞了游戏的美术风格，但批评其剧情战役过短。",
               "{city}的工作室计划在{year}年推出续作。"],
    },
}

GENERIC = {
    "en": ["More information is available on the official website.",
           "The figures were confirmed by independent sources.",
           "Readers are encouraged to share their experiences in the comments.",
           "This article was updated with additional reporting."],
    "zh": ["更多信息请访问官方网站。", "上述数据已得到独立来源的证实。", "欢迎读者在评论区分享自己的经历。",
           "本文已根据补充报道进行更新。"],
}

# Web text is skewed by topic, and differently per language (news and games weigh more in the
# Chinese crawl, sports and science in the English one): the sample keeps that so rebalancing has
# something to do.
TOPIC_WEIGHTS = {
    "en": {"news": 6, "finance": 3, "sports": 5, "games": 2, "food": 3, "travel": 2, "medicine": 2,
           "education": 1, "law": 1, "science": 2, "math": 1, "code": 2},
    "zh": {"news": 7, "finance": 4, "sports": 2, "games": 4, "food": 3, "travel": 2, "medicine": 2,
           "education": 2, "law": 1, "science": 1, "math": 1, "code": 1},
}
TITLES = {"en": "{topic} update from {city}", "zh": "{city}{topic}动态"}
TOPIC_NAMES_ZH = {"news": "新闻", "finance": "财经", "law": "法律", "medicine": "健康", "education": "教育",
                  "science": "科学", "math": "数学", "code": "编程", "sports": "体育", "travel": "旅游",
                  "food": "美食", "games": "游戏"}

BOILERPLATE = {
    "en": {"nav": ["Home", "News", "World", "Business", "Sport", "Culture", "Contact us"],
           "footer": "Copyright {year} Example Media Group. All rights reserved. Privacy policy | Terms of use",
           "ad": "Advertisement: Save 50% on premium membership today only!"},
    "zh": {"nav": ["首页", "新闻", "国际", "财经", "体育", "文化", "联系我们"],
           "footer": "版权所有 {year} 示例传媒集团 保留所有权利 隐私政策 | 使用条款 | 京ICP备12345678号",
           "ad": "广告：会员限时五折，立即抢购！"},
}

OTHER_LANGUAGES = {
    "fr": ["Le conseil municipal a approuvé le nouveau budget pour les transports publics.",
           "Les habitants peuvent consulter le projet à la mairie jusqu'à la fin du mois.",
           "Selon les experts, la qualité de l'air s'est nettement améliorée cette année."],
    "de": ["Der Stadtrat hat den neuen Haushalt für den öffentlichen Nahverkehr beschlossen.",
           "Die Bürger können den Entwurf bis Ende des Monats im Rathaus einsehen.",
           "Nach Angaben von Fachleuten hat sich die Luftqualität in diesem Jahr deutlich verbessert."],
    "es": ["El ayuntamiento aprobó el nuevo presupuesto para el transporte público.",
           "Los vecinos pueden consultar el proyecto en el ayuntamiento hasta final de mes.",
           "Según los expertos, la calidad del aire ha mejorado notablemente este año."],
    "ru": ["Городской совет утвердил новый бюджет на общественный транспорт.",
           "Жители могут ознакомиться с проектом в мэрии до конца месяца.",
           "По словам экспертов, качество воздуха в этом году заметно улучшилось."],
    "ja": ["市議会は公共交通機関の新しい予算を承認しました。",
           "住民は月末まで市役所で計画案を閲覧できます。",
           "専門家によると、今年は大気の質が大きく改善しました。"],
}

SPAM = {
    "en": "cheap replica watches best price buy now free shipping casino bonus click here",
    "zh": "免费领取 高额返利 点击进入 彩票 代开发票 低价出售 加微信 赚钱",
}
