"""Texts of the closed-loop tabs (Comments, Follow-up, Advocates, Drivers) in the three languages.

Kept beside each other so a translation is reviewed in one place; :func:`merge` adds them to the
label sets of :mod:`kpi_xl.workbook.labels` (same keys in every language, as a test checks).
"""

# Long texts are single user-facing strings; wide CJK characters count as one column to ruff.
# ruff: noqa: E501

from __future__ import annotations

from typing import Any

__all__ = ["merge"]

_EN: dict[str, Any] = {
    "sheet": {
        "comments": "Comments",
        "followup": "Follow-up",
        "advocates": "Advocates",
        "drivers": "Drivers",
    },
    "col": {
        "price": "Price rating",
        "support": "Support rating",
        "product": "Product rating",
        "answered": "Feedback answered",
    },
    "setting": {
        "plan_margin": (
            "Planning: NPS margin of error",
            "In NPS points. Drivers tab: responses needed per segment for +/- this margin.",
        ),
        "plan_change": (
            "Planning: NPS change to detect",
            "In NPS points. Drivers tab: responses per period to detect this change.",
        ),
    },
    "text": {
        "comments_title": "What customers say: themes of open comments (reporting period)",
        "comments_note": (
            "Words and two-word phrases each NPS group uses distinctively more than the others "
            "(log-likelihood G2, Rayson & Garside 2000; p < 0.05). Share = share of the group's comments "
            "mentioning it. Written by Refresh; comments are shown as text."
        ),
        "th_group": "Group",
        "th_theme": "Theme",
        "th_count": "Uses",
        "th_comments": "Comments",
        "th_share": "Share of group's comments",
        "th_g2": "G2",
        "th_p": "p-value",
        "th_example": "Example comment",
        "th_example2": "Another example",
        "sentiment_title": "Sentiment by NPS group (VADER lexicon; English comments only)",
        "sn_scored": "Scored",
        "sn_not_scored": "Not scored (not English)",
        "sn_positive": "Positive",
        "sn_neutral": "Neutral",
        "sn_negative": "Negative",
        "sn_pos_low": "Positive low",
        "sn_pos_high": "Positive high",
        "group_detractor": "Detractors",
        "group_passive": "Passives",
        "group_promoter": "Promoters",
        "group_all": "All",
        "followup_title": "Follow-up: who to call back first (reporting period)",
        "followup_note": (
            "Customers whose latest answer is a detractor (0-6) or a CSAT of 2 or less, with their value. "
            "Value at risk = predicted CLV (historical CLV where there is no prediction). Revenue at risk = "
            "predicted CLV of detractors and of customers with P(alive) below 50%."
        ),
        "risk_title": "Revenue at risk by segment",
        "list_title": "Follow-up list (highest value at risk first)",
        "not_joined": "{n} customer(s) on the list are not in the Orders tab (no value): {ids}",
        "all_joined": "Every customer on the list has orders.",
        "advocates_title": "Advocates: promoters ranked by advocacy score",
        "advocates_note": (
            "Score 0-100 = weighted mean of: NPS/10 (weight 1), referrals made (1), referrals that bought (2), "
            "revenue of referred customers (2), predicted CLV (1), each divided by its maximum among promoters."
        ),
        "drivers_title": "What drives the score: key driver analysis (reporting period)",
        "drivers_note": (
            "Importance = share of R2 by Shapley value decomposition (Lipovetsky & Conklin 2001), 95% "
            "percentile bootstrap interval; performance = mean rating; quadrant as in importance-performance "
            "analysis (Martilla & James 1977)."
        ),
        "drivers_r2": "R2 of the score on the ratings: {r2:.3f} ({n} complete answers)",
        "drivers_none": "Not enough answers with every rating for a driver analysis.",
        "plan_title": "Planning the next survey (adjusted-Wald; Rocks 2016, Sauro & Lewis 2016)",
        "plan_note": (
            "Responses needed per segment for an NPS margin of error of +/- {m} points, from each segment's "
            "own shares; and per period to detect a change of {c} points ({p} confidence, 80% power)."
        ),
        "plan_change": "Responses per period to detect a {c}-point change",
        "plan_inputs": "The targets are settings: '{a}' and '{b}' on the {s} tab. Change them there, then Refresh.",
        "by_title": "Themes by segment and by month (top {n} per NPS group)",
        "by_note": (
            "The same test within each segment (the 12 with most comments) and each month of the reporting "
            "period: each group against the other groups of that segment or month."
        ),
        "th_by": "By",
        "th_by_label": "Segment or month",
        "th_segment": "Segment",
        "th_month": "Month",
        "fb_title": "Feedback engagement (reporting period)",
        "fb_note": "Feedback = answers with a comment; answered = a date in the Responses tab's 'Feedback answered' column.",
        "fb_received": "Feedback received",
        "fb_answered": "Answered",
        "fb_rate": "Share answered",
        "fb_rate_low": "Share answered: interval low",
        "fb_rate_high": "Share answered: interval high",
        "fb_days": "Median time to answer (days)",
        "fb_days_low": "Time to answer: interval low",
        "fb_days_high": "Time to answer: interval high",
        "fb_no_column": "Add a column '{col}' to the Responses table (the date each comment was answered) to see this.",
        "fb_none": "No comments in the reporting period.",
        "chart_themes": "Top themes: share of detractor (red) and promoter (green) comments",
    },
    "kpi": {
        "revenue_at_risk": "Revenue at risk",
        "followup": "Customers to call back",
        "rank": "Rank",
        "reason": "Reason",
        "answered_on": "Answered on",
        "hist_clv": "Historical CLV",
        "pred_clv": "Predicted CLV",
        "value_at_risk": "Value at risk",
        "open_tickets": "Open tickets",
        "last_contact": "Last contact",
        "risk_detractors": "At risk: detractors",
        "risk_lapsing": "At risk: P(alive) < 50%",
        "risk_total": "Revenue at risk",
        "risk_customers": "Customers at risk",
        "risk_share": "Share of predicted CLV",
        "referrals_made": "Referrals made",
        "referrals_converted": "Referrals who bought",
        "referral_revenue": "Revenue of referrals",
        "advocacy_score": "Advocacy score",
        "attribute": "Attribute",
        "importance": "Importance",
        "imp_low": "Low",
        "imp_high": "High",
        "r2_share": "Share of R2",
        "performance": "Mean rating",
        "quadrant": "Quadrant",
        "margin_now": "NPS ± now",
        "needed": "Needed",
        "additional": "Additional",
        "score_nps": "NPS score",
        "score_csat": "CSAT",
        "comment": "Comment",
        # Likes, comments and shares of social posts per reach: named so it is not read as the
        # engagement with customers' feedback (Follow-up tab).
        "engagement": "Social engagement (reach)",
    },
}

_DE: dict[str, Any] = {
    "sheet": {
        "comments": "Kommentare",
        "followup": "Nachfassen",
        "advocates": "Fürsprecher",
        "drivers": "Treiber",
    },
    "col": {
        "price": "Bewertung Preis",
        "support": "Bewertung Service",
        "product": "Bewertung Produkt",
        "answered": "Feedback beantwortet",
    },
    "setting": {
        "plan_margin": (
            "Planung: NPS-Fehlermarge",
            "In NPS-Punkten. Treiber-Tab: benötigte Antworten je Segment für +/- diese Marge.",
        ),
        "plan_change": (
            "Planung: NPS-Änderung erkennen",
            "In NPS-Punkten. Treiber-Tab: Antworten je Zeitraum, um diese Änderung zu erkennen.",
        ),
    },
    "text": {
        "comments_title": "Was Kunden sagen: Themen der Freitext-Kommentare (Berichtszeitraum)",
        "comments_note": (
            "Wörter und Zwei-Wort-Phrasen, die eine NPS-Gruppe deutlich häufiger verwendet als die anderen "
            "(Log-Likelihood G2, Rayson & Garside 2000; p < 0,05). Anteil = Anteil der Kommentare der Gruppe, "
            "die es erwähnen. Von Aktualisieren geschrieben; Kommentare erscheinen als Text."
        ),
        "th_group": "Gruppe",
        "th_theme": "Thema",
        "th_count": "Nennungen",
        "th_comments": "Kommentare",
        "th_share": "Anteil der Kommentare der Gruppe",
        "th_g2": "G2",
        "th_p": "p-Wert",
        "th_example": "Beispielkommentar",
        "th_example2": "Weiteres Beispiel",
        "sentiment_title": "Stimmung nach NPS-Gruppe (VADER-Lexikon; nur englische Kommentare)",
        "sn_scored": "Bewertet",
        "sn_not_scored": "Nicht bewertet (nicht Englisch)",
        "sn_positive": "Positiv",
        "sn_neutral": "Neutral",
        "sn_negative": "Negativ",
        "sn_pos_low": "Positiv unten",
        "sn_pos_high": "Positiv oben",
        "group_detractor": "Kritiker",
        "group_passive": "Passive",
        "group_promoter": "Promotoren",
        "group_all": "Alle",
        "followup_title": "Nachfassen: wen zuerst zurückrufen (Berichtszeitraum)",
        "followup_note": (
            "Kunden, deren letzte Antwort ein Kritiker (0-6) oder ein CSAT von 2 oder weniger ist, mit ihrem "
            "Wert. Gefährdeter Wert = Prognose-CLV (ohne Prognose der bisherige CLV). Gefährdeter Umsatz = "
            "Prognose-CLV der Kritiker und der Kunden mit P(aktiv) unter 50 %."
        ),
        "risk_title": "Gefährdeter Umsatz nach Segment",
        "list_title": "Nachfassliste (höchster gefährdeter Wert zuerst)",
        "not_joined": "{n} Kunde(n) der Liste stehen nicht in den Bestellungen (kein Wert): {ids}",
        "all_joined": "Alle Kunden der Liste haben Bestellungen.",
        "advocates_title": "Fürsprecher: Promotoren nach Fürsprecher-Score",
        "advocates_note": (
            "Score 0-100 = gewichteter Mittelwert aus: NPS/10 (Gewicht 1), Empfehlungen (1), Empfehlungen mit "
            "Kauf (2), Umsatz der Empfohlenen (2), Prognose-CLV (1), jeweils geteilt durch das Maximum der "
            "Promotoren."
        ),
        "drivers_title": "Was den Score treibt: Treiberanalyse (Berichtszeitraum)",
        "drivers_note": (
            "Wichtigkeit = Anteil an R2 nach Shapley-Zerlegung (Lipovetsky & Conklin 2001), 95-%-Perzentil-"
            "Bootstrap-Intervall; Leistung = mittlere Bewertung; Quadrant nach Importance-Performance-Analyse "
            "(Martilla & James 1977)."
        ),
        "drivers_r2": "R2 des Scores auf die Bewertungen: {r2:.3f} ({n} vollständige Antworten)",
        "drivers_none": "Zu wenige Antworten mit allen Bewertungen für eine Treiberanalyse.",
        "plan_title": "Die nächste Umfrage planen (Adjusted-Wald; Rocks 2016, Sauro & Lewis 2016)",
        "plan_note": (
            "Benötigte Antworten je Segment für eine NPS-Fehlermarge von +/- {m} Punkten, aus den Anteilen "
            "des Segments; und je Zeitraum, um eine Änderung von {c} Punkten zu erkennen ({p} Konfidenz, "
            "80 % Power)."
        ),
        "plan_change": "Antworten je Zeitraum für eine Änderung von {c} Punkten",
        "plan_inputs": "Die Ziele sind Einstellungen: '{a}' und '{b}' im Tab {s}. Dort ändern, dann Aktualisieren.",
        "by_title": "Themen nach Segment und nach Monat (Top {n} je NPS-Gruppe)",
        "by_note": (
            "Derselbe Test innerhalb jedes Segments (die 12 mit den meisten Kommentaren) und jedes Monats des "
            "Berichtszeitraums: jede Gruppe gegen die anderen Gruppen dieses Segments oder Monats."
        ),
        "th_by": "Nach",
        "th_by_label": "Segment oder Monat",
        "th_segment": "Segment",
        "th_month": "Monat",
        "fb_title": "Feedback-Engagement (Berichtszeitraum)",
        "fb_note": "Feedback = Antworten mit Kommentar; beantwortet = ein Datum in der Spalte 'Feedback beantwortet' der Antworten.",
        "fb_received": "Feedback erhalten",
        "fb_answered": "Beantwortet",
        "fb_rate": "Anteil beantwortet",
        "fb_rate_low": "Anteil beantwortet: Intervall unten",
        "fb_rate_high": "Anteil beantwortet: Intervall oben",
        "fb_days": "Median der Antwortzeit (Tage)",
        "fb_days_low": "Antwortzeit: Intervall unten",
        "fb_days_high": "Antwortzeit: Intervall oben",
        "fb_no_column": "Fügen Sie der Tabelle Antworten eine Spalte '{col}' hinzu (Datum der Antwort auf den Kommentar), um dies zu sehen.",
        "fb_none": "Keine Kommentare im Berichtszeitraum.",
        "chart_themes": "Top-Themen: Anteil der Kritiker- (rot) und Promotoren-Kommentare (grün)",
    },
    "kpi": {
        "revenue_at_risk": "Gefährdeter Umsatz",
        "followup": "Zurückzurufen",
        "rank": "Rang",
        "reason": "Grund",
        "answered_on": "Antwort vom",
        "hist_clv": "Bisheriger CLV",
        "pred_clv": "Prognose-CLV",
        "value_at_risk": "Gefährdeter Wert",
        "open_tickets": "Offene Tickets",
        "last_contact": "Letzter Kontakt",
        "risk_detractors": "Gefährdet: Kritiker",
        "risk_lapsing": "Gefährdet: P(aktiv) < 50 %",
        "risk_total": "Gefährdeter Umsatz",
        "risk_customers": "Gefährdete Kunden",
        "risk_share": "Anteil am Prognose-CLV",
        "referrals_made": "Empfehlungen",
        "referrals_converted": "Empfehlungen mit Kauf",
        "referral_revenue": "Umsatz der Empfohlenen",
        "advocacy_score": "Fürsprecher-Score",
        "attribute": "Merkmal",
        "importance": "Wichtigkeit",
        "imp_low": "Unten",
        "imp_high": "Oben",
        "r2_share": "Anteil an R2",
        "performance": "Mittlere Bewertung",
        "quadrant": "Quadrant",
        "margin_now": "NPS ± jetzt",
        "needed": "Benötigt",
        "additional": "Zusätzlich",
        "score_nps": "NPS-Wert",
        "score_csat": "CSAT",
        "comment": "Kommentar",
        "engagement": "Social Engagement (Reichw.)",
    },
}

_ZH: dict[str, Any] = {
    "sheet": {"comments": "意見主題", "followup": "追蹤回訪", "advocates": "推廣者", "drivers": "驅動因素"},
    "col": {"price": "價格評分", "support": "客服評分", "product": "產品評分", "answered": "意見回覆時間"},
    "setting": {
        "plan_margin": ("調查規劃：NPS 誤差（分）", "驅動因素頁：各區隔達到 ± 此誤差所需回答數。"),
        "plan_change": ("調查規劃：欲偵測的 NPS 變化（分）", "驅動因素頁：每期偵測此變化所需回答數。"),
    },
    "text": {
        "comments_title": "顧客怎麼說：開放式意見的主題（報告期間）",
        "comments_note": (
            "各 NPS 群組比其他群組明顯更常使用的詞與雙詞片語（對數概似 G2，Rayson & Garside 2000；p < 0.05）。"
            "比例 = 該群組意見中提及的比例。由重新整理寫入；意見一律以文字顯示。"
        ),
        "th_group": "群組",
        "th_theme": "主題",
        "th_count": "次數",
        "th_comments": "意見數",
        "th_share": "群組意見比例",
        "th_g2": "G2",
        "th_p": "p 值",
        "th_example": "意見範例",
        "th_example2": "另一範例",
        "sentiment_title": "各 NPS 群組的情緒（VADER 詞典；僅英文意見）",
        "sn_scored": "已評分",
        "sn_not_scored": "未評分（非英文）",
        "sn_positive": "正面",
        "sn_neutral": "中性",
        "sn_negative": "負面",
        "sn_pos_low": "正面下限",
        "sn_pos_high": "正面上限",
        "group_detractor": "批評者",
        "group_passive": "被動者",
        "group_promoter": "推薦者",
        "group_all": "全部",
        "followup_title": "追蹤回訪：優先回電名單（報告期間）",
        "followup_note": (
            "最近一次回答為批評者（0-6）或 CSAT 2 分以下的顧客及其價值。風險價值 = 預測 CLV（無預測時為歷史 CLV）。"
            "風險營收 = 批評者及 P(活躍) 低於 50% 顧客的預測 CLV。"
        ),
        "risk_title": "各區隔的風險營收",
        "list_title": "回訪名單（風險價值由高到低）",
        "not_joined": "名單中有 {n} 位顧客不在訂單頁（無價值）：{ids}",
        "all_joined": "名單中每位顧客都有訂單。",
        "advocates_title": "推廣者：依推廣分數排序的推薦者",
        "advocates_note": (
            "分數 0-100 = 加權平均：NPS/10（權重 1）、推薦人數（1）、推薦成交人數（2）、被推薦者營收（2）、"
            "預測 CLV（1），各除以推薦者中的最大值。"
        ),
        "drivers_title": "分數的驅動因素：關鍵驅動分析（報告期間）",
        "drivers_note": (
            "重要性 = 以 Shapley 值分解的 R2 比例（Lipovetsky & Conklin 2001），95% 百分位 bootstrap 區間；"
            "表現 = 平均評分；象限依重要性-表現分析（Martilla & James 1977）。"
        ),
        "drivers_r2": "分數對各評分的 R2：{r2:.3f}（{n} 筆完整回答）",
        "drivers_none": "具備全部評分的回答太少，無法做驅動分析。",
        "plan_title": "規劃下一次調查（調整 Wald；Rocks 2016、Sauro & Lewis 2016）",
        "plan_note": "各區隔達到 NPS 誤差 ±{m} 分所需回答數（依該區隔比例）；以及每期偵測 {c} 分變化所需回答數（{p} 信賴、80% 檢定力）。",
        "plan_change": "每期偵測 {c} 分變化所需回答數",
        "plan_inputs": "目標是設定值：{s} 頁的「{a}」與「{b}」。請在該處修改，然後重新整理。",
        "by_title": "各區隔與各月份的主題（每個 NPS 群組前 {n} 名）",
        "by_note": "在每個區隔（意見最多的 12 個）與報告期間的每個月份內做相同檢定：各群組對該區隔或月份的其他群組。",
        "th_by": "依",
        "th_by_label": "區隔或月份",
        "th_segment": "區隔",
        "th_month": "月份",
        "fb_title": "意見回覆（報告期間）",
        "fb_note": "意見 = 附有意見的回答；已回覆 = 回答頁「意見回覆時間」欄有日期。",
        "fb_received": "收到意見",
        "fb_answered": "已回覆",
        "fb_rate": "回覆比例",
        "fb_rate_low": "回覆比例：區間下限",
        "fb_rate_high": "回覆比例：區間上限",
        "fb_days": "回覆時間中位數（天）",
        "fb_days_low": "回覆時間：區間下限",
        "fb_days_high": "回覆時間：區間上限",
        "fb_no_column": "請在回答表加入「{col}」欄（回覆該意見的日期）即可看到此項。",
        "fb_none": "報告期間沒有意見。",
        "chart_themes": "熱門主題：批評者（紅）與推薦者（綠）意見比例",
    },
    "kpi": {
        "revenue_at_risk": "風險營收",
        "followup": "待回電顧客",
        "rank": "排名",
        "reason": "原因",
        "answered_on": "回答日期",
        "hist_clv": "歷史 CLV",
        "pred_clv": "預測 CLV",
        "value_at_risk": "風險價值",
        "open_tickets": "未結工單",
        "last_contact": "最近聯繫",
        "risk_detractors": "風險：批評者",
        "risk_lapsing": "風險：P(活躍) < 50%",
        "risk_total": "風險營收",
        "risk_customers": "風險顧客數",
        "risk_share": "占預測 CLV 比例",
        "referrals_made": "推薦人數",
        "referrals_converted": "推薦成交",
        "referral_revenue": "被推薦者營收",
        "advocacy_score": "推廣分數",
        "attribute": "屬性",
        "importance": "重要性",
        "imp_low": "下限",
        "imp_high": "上限",
        "r2_share": "R2 比例",
        "performance": "平均評分",
        "quadrant": "象限",
        "margin_now": "目前 NPS ±",
        "needed": "所需",
        "additional": "尚需",
        "score_nps": "NPS 分數",
        "score_csat": "CSAT",
        "comment": "意見",
        "engagement": "社群互動率（觸及）",
    },
}

_ENGINE_WORDS = (
    "Concentrate here", "Keep up the good work", "Low priority", "Possible overkill", "detractor", "low CSAT",
    "detractor, low CSAT",
)  # fmt: skip
#: The engine's words (quadrants, follow-up reasons) as the workbook shows them.
_QUADRANTS = {
    "en": {w: w for w in _ENGINE_WORDS},
    "de": {
        "Concentrate here": "Hier ansetzen",
        "Keep up the good work": "Weiter so",
        "Low priority": "Geringe Priorität",
        "Possible overkill": "Evtl. zu viel Aufwand",
        "detractor": "Kritiker",
        "low CSAT": "niedriger CSAT",
        "detractor, low CSAT": "Kritiker, niedriger CSAT",
    },
    "zh-Hant": {
        "Concentrate here": "優先改善",
        "Keep up the good work": "保持優勢",
        "Low priority": "次要",
        "Possible overkill": "可能過度投入",
        "detractor": "批評者",
        "low CSAT": "CSAT 偏低",
        "detractor, low CSAT": "批評者、CSAT 偏低",
    },
}


def merge(lab: dict[str, Any], lang: str) -> None:
    """Add the closed-loop texts of ``lang`` to its label set ``lab`` (in place)."""
    own = {"en": _EN, "de": _DE, "zh-Hant": _ZH}[lang]
    lab["sheet"].update(own["sheet"])
    lab["col"]["responses"].update(own["col"])
    lab["setting"].update(own["setting"])
    lab["text"].update(own["text"])
    lab["kpi"].update(own["kpi"])
    lab["engine_words"] = dict(_QUADRANTS[lang])
