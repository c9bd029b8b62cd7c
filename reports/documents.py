"""Report documents: rankings, unit tables, item analysis and qualification progress as .xlsx (headers in the
user's language, numbers as numbers, the header row frozen), and as PDF an exam's score report, with its charts
drawn in the PDF, and a candidate's score slip."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from accounts.models import Rank
from accounts.models import label as profile_label
from core.models import LOCAL_ZONE
from core.pdf import Pdf
from core.spreadsheets import StreamedWorkbook
from question_bank.types import LETTERS, QUESTION_TYPES


def _yes_no(value) -> str:
    return "" if value is None else _("Yes") if value else _("No")


def _local(moment) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _ratio(value, digits=4):
    return None if value is None else round(value, digits)


def ranking_xlsx(exam, rows) -> bytes:
    """The ranking rows (any iterable of ranking_query rows: read in batches, written as they come)."""
    book = StreamedWorkbook()
    ws = book.sheet(_("Ranking"), [
        _("Placing"), _("Tied"), _("Placing among those shown"), _("Name"), _("Employee number"), _("Unit"),
        _("Post rank"), _("Score"), _("Time used (minutes)"), _("Submitted at"), _("Passed"),
    ], [8, 6, 12, 12, 14, 30, 14, 8, 12, 20, 8])  # fmt: skip
    # The words every row repeats, translated once (a translation lookup per row cost a sixth of the time).
    ranks = {r.value: profile_label(r) for r in Rank}
    passed = {None: "", True: _("Yes"), False: _("No")}
    for r in rows:  # the exam's rank first: the one rank a person has, whoever exports
        ws.append([r.exam_rank, r.tied if r.tied > 1 else None, r.rank, r.name, r.username, r.unit_name or "",
                   ranks.get(r.post_rank, r.post_rank or ""), float(r.score), round(r.seconds / 60, 1),
                   _local(r.ended_at), passed[None if r.passed is None else bool(r.passed)]])  # fmt: skip
    return book.to_bytes()


def units_xlsx(title: str, rows: list[dict], percent: bool = False) -> bytes:
    score = _("(percent of the total)") if percent else _("(points)")
    book = StreamedWorkbook()
    ws = book.sheet(_("Unit table"), [
        _("Placing"), _("Unit"), _("May sit it"), _("Took it"), _("Participation"), _("Graded"), _("Passed"),
        _("Pass rate"), f"{_('Mean')} {score}", f"{_('Median')} {score}",
    ], [8, 30, 10, 10, 12, 10, 10, 10, 14, 14], formats={5: "0.0%", 8: "0.0%"})  # fmt: skip
    ws.ws.oddHeader.center.text = title
    for r in rows:
        ws.append([r["place"], r["unit"] or _("No unit"), r["eligible"], r["took"], r["participation"],
                   r["ranked"], r["passed"], r["pass_rate"], _ratio(r["mean"], 2), _ratio(r["median"], 2)])  # fmt: skip
    return book.to_bytes()


def _option_name(qtype: str, option) -> str:
    if qtype == "truefalse":
        return _("True") if option else _("False")
    return LETTERS[option]


def items_xlsx(exam, data: dict, flag_labels: dict) -> bytes:
    book = StreamedWorkbook()
    ws = book.sheet(_("Item analysis"), [
        _("Section"), _("Question"), _("Version"), _("Type"), _("Category"), _("Stem"), _("Answers"), _("Facility"),
        _("Point-biserial"), _("Upper–lower index"), _("Options chosen (all / top / bottom)"), _("Key"), _("Flags"),
    ], [14, 10, 8, 10, 16, 50, 8, 9, 10, 10, 36, 8, 30])  # fmt: skip
    for i in data["items"]:
        options = ""
        key = ""
        if i["options"]:
            options = "；".join(f"{_option_name(i['qtype'], o['option'])} {o['all']}/{o['upper']}/{o['lower']}"
                               for o in i["options"])  # fmt: skip
            key = "".join(_option_name(i["qtype"], o["option"]) for o in i["options"] if o["key"])
        ws.append([i["section"], i["question_id"], i["number"], str(QUESTION_TYPES[i["qtype"]].label),
                   i["category"] or "", i["stem"], i["n"], _ratio(i["facility"], 3),
                   _ratio(i["point_biserial"], 3), _ratio(i["discrimination_index"], 3), options, key,
                   "；".join(str(flag_labels[f]) for f in i["flags"])])  # fmt: skip
    rel = data["reliability"]
    summary = book.wb.create_sheet(_("Test"))
    summary.column_dimensions["A"].width = 20
    for caption, value in (
        (_("Candidates"), data["n"]),
        (_("Questions per paper"), _ratio(rel["items_per_paper"], 1)),
        (_("Cronbach's alpha"), _ratio(rel["alpha"], 3)),
        (_("Flagged questions"), data["flagged"]),
    ):
        summary.append([caption, value])
    return book.to_bytes()


QUALIFICATION_STATUS = {
    "qualified": _l("Holds the qualification"),
    "lapsed": _l("Passed both parts; no longer valid"),
    "political_theory": _l("Passed political theory only"),
    "job_knowledge": _l("Passed job knowledge only"),
    "none": _l("Passed neither part"),
    "not_sat": _l("Has not sat yet"),
}


def qualifications_xlsx(cycle: str, rows) -> bytes:
    book = StreamedWorkbook()
    ws = book.sheet(cycle, [_("Employee number"), _("Name"), _("Unit"), _("Standing"), _("Valid until")],
                    [14, 12, 30, 24, 12])  # fmt: skip
    for r in rows:
        ws.append([r["username"], r["name"], r["unit"] or "", str(QUALIFICATION_STATUS[r["status"]]),
                   r["valid_until"]])  # fmt: skip
    return book.to_bytes()


# ---------------------------------------------------------------- PDFs


def _number(value, digits=1) -> str:
    return "—" if value is None else f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def _percent(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _chart(pdf: Pdf, title: str, labels: list[str], values: list[float], height: float = 55, unit: str = "") -> None:
    """A titled bar chart at the current position, across the page's width, on the next page if it does not fit.
    Drawn in a local graphics state: its fill and line colours end with it (fpdf2's tables take the current fill
    colour as their cells' background)."""
    pdf.keep_room(8 + 4 + height + 8)
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    left, top = pdf.l_margin + 10, pdf.get_y() + 4
    width = pdf.w - pdf.l_margin - pdf.r_margin - 12
    peak = max(values or [0]) or 1
    step = width / max(len(values), 1)
    with pdf.local_context(draw_color=(120, 120, 120), fill_color=(59, 110, 165)):
        pdf.line(left, top + height, left + width, top + height)
        pdf.set_font("cjk", size=7)
        for i, (caption, value) in enumerate(zip(labels, values, strict=True)):
            bar = height * value / peak
            x = left + i * step + step * 0.15
            if bar > 0:
                pdf.rect(x, top + height - bar, step * 0.7, bar, style="F")
            pdf.set_xy(x - step * 0.15, top + height - bar - 4.5)
            pdf.cell(step, 4, f"{value:g}{unit}", align="C")
            pdf.set_xy(x - step * 0.15, top + height + 1)
            pdf.cell(step, 4, caption, align="C")
    pdf.set_y(top + height + 8)
    pdf.set_font("cjk", size=10)


def _title(pdf: Pdf, text: str, room: float = 4 * 6) -> None:
    """A section title, kept with the first `room` mm of what follows it (a table's heading and three rows)."""
    pdf.keep_room(8 + room)
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")


def report_pdf(exam, figures: dict, viewer_scope: str) -> bytes:
    """An exam's score report: counts, the summary, the distribution chart, by section and by unit."""
    s, c = figures["summary"], figures["counts"]
    pdf = Pdf()
    pdf.add_page()
    pdf.set_font("cjk", size=17)
    pdf.multi_cell(0, 10, f"{exam.title} 成绩报告", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 6, f"考试代码 {exam.code} · 考试时间 {_local(exam.opens_at)[:16]} 至 {_local(exam.closes_at)[:16]}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.cell(0, 6, f"统计范围：{viewer_scope} · 满分 {exam.total_points:g} · 合格线 {float(exam.pass_mark):g}",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(3)
    counts = ("应考", "参考", "交卷", "已评分", "待阅卷", "缺考")
    pdf.data_table([counts, [c[k] for k in ("eligible", "started", "submitted", "ranked", "waiting", "not_started")]],
                   (30,) * 6)  # fmt: skip
    pdf.ln(3)
    summary = [
        *(_number(s[k], 2) for k in ("mean", "median", "sd", "high", "low")),
        s["passed"],
        _percent(s["pass_rate"]),
    ]
    pdf.data_table([("平均分", "中位数", "标准差", "最高分", "最低分", "合格人数", "合格率"), summary],
                   (26, 26, 26, 26, 26, 26, 24))  # fmt: skip
    pdf.ln(4)
    dist = figures["distribution"]
    _chart(pdf, "分数分布（人数）", [f"{d['low']:g}–{d['high']:g}" for d in dist], [d["count"] for d in dist])
    analysis = figures.get("analysis")
    if analysis is not None and analysis.data["sections"]:
        sections = analysis.data["sections"]
        rates = [round(100 * (x["rate"] or 0), 1) for x in sections]
        _chart(pdf, "各部分得分率", [x["name"] for x in sections], rates, height=40, unit="%")
        pdf.data_table([("部分", "题数（题库中）", "平均得分", "满分", "得分率")] + [
            (x["name"], x["questions"], _number(x["mean"], 2), _number(x["possible"], 2), _percent(x["rate"]))
            for x in sections], (60, 30, 30, 30, 30))  # fmt: skip
        pdf.ln(3)
    _title(pdf, "各单位情况")
    pdf.set_font("cjk", size=9)
    pdf.data_table([("名次", "单位", "应考", "参考", "参考率", "合格率", "平均分", "中位数")] + [
        (u["place"] or "—", u["unit"] or "—", u["eligible"], u["took"], _percent(u["participation"]),
         _percent(u["pass_rate"]), _number(u["mean"], 2), _number(u["median"], 2))
        for u in figures["units"]], (12, 58, 15, 15, 20, 20, 20, 20))  # fmt: skip
    return bytes(pdf.output())


def slip_pdf(attempt, place: dict | None, sections: list[dict]) -> bytes:
    """One candidate's score slip: who, which exam, when, the score by `sections` (history.attempt_sections), pass
    or fail, and the rank."""
    pdf = Pdf()
    _slip_page(pdf, attempt, place, sections)
    return bytes(pdf.output())


def slips_pdf(slips) -> bytes:
    """Score slips in one PDF, a page each: `slips` yields (attempt, place, sections) as slip_pdf takes them (read
    as they are drawn, so a job can report each person)."""
    pdf = Pdf()
    for attempt, place, sections in slips:
        _slip_page(pdf, attempt, place, sections)
    if pdf.page == 0:
        pdf.add_page()
    return bytes(pdf.output())


def _slip_page(pdf: Pdf, attempt, place: dict | None, sections: list[dict]) -> None:
    exam, user = attempt.exam, attempt.user
    cadre = user.cadre
    pdf.add_page()
    pdf.set_font("cjk", size=17)
    pdf.multi_cell(0, 10, "成绩单", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.multi_cell(0, 7, exam.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    used = int((attempt.ended_at - attempt.started_at).total_seconds())
    facts = [
        ("姓名", user.name), ("工号", user.username), ("单位", cadre.unit.name if cadre else "—"),
        ("考试代码", exam.code), ("开考时间", _local(attempt.started_at)), ("交卷时间", _local(attempt.ended_at)),
        ("用时", f"{used // 60}分{used % 60}秒"),
        ("成绩", "待阅卷" if attempt.score is None else f"{float(attempt.score):g} / {exam.total_points:g}"),
        ("结果", "成绩作废（违纪处理）" if attempt.voided_at is not None else "—" if attempt.passed is None
               else "合格" if attempt.passed else "不合格"),
    ]  # fmt: skip
    if place:
        tie = "（并列）" if place["tied"] > 1 else ""
        facts.append(
            ("名次", f"第 {place['rank']} 名{tie}，共 {place['ranked']} 人，超过 {place['behind_percent']:g}% 的考生")
        )
    for caption, value in facts:
        pdf.cell(30, 8, caption + "：")
        pdf.multi_cell(0, 8, str(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.data_table([("部分", "得分", "满分")] + [(s["title"], f"{s['points']:g}", f"{s['total']:g}")
                                            for s in sections], (90, 40, 40))  # fmt: skip
    pdf.ln(6)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(0, 6, f"本成绩单由任职资格在线考试系统生成，考试记录编号 {attempt.id}。",
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip
