"""The sitting record (考场记录): per room of a session, a PDF of the exam, the session, the room and its proctors,
the attendance (placed, checked in, absent, with the absent by name), the incidents and their decisions, the
proctors' actions on attempts (time extended, clock paused and resumed, submits, releases, reopenings, with the
reason and who acted), and lines for the proctors' signatures; per session a summary of every room. Printed
documents are in Chinese, like the app's other official documents (reports.documents, archive.documents)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import distinct, func, select

from accounts.models import User
from core.extensions import db
from core.models import LOCAL_ZONE
from core.pdf import Pdf
from exam.models import Attempt, AttemptEvent, EventKind
from sitting.models import Decision, Incident, IncidentKind, ProctorAssignment, Room, Seat, Session

#: The proctors' actions the record lists (exam.adjustments), in Chinese.
ACTIONS = {
    EventKind.EXTENDED: "延长时间",
    EventKind.PAUSED: "暂停计时",
    EventKind.RESUMED: "恢复计时",
    EventKind.FORCED: "强制交卷",
    EventKind.RELEASED: "解除锁定（换机）",
    EventKind.REOPENED: "重新开放作答",
}
#: The signals of the exam pages the record counts (focus losses and pastes always; the rest where the exam's
#: proctoring watches them).
SIGNALS = {
    EventKind.FOCUS_LOSS: "切屏",
    EventKind.PASTE: "粘贴",
    EventKind.FULLSCREEN_EXIT: "退出全屏",
    EventKind.INACTIVE: "长时间无操作",
    EventKind.CAMERA_OFF: "摄像头未开启",
    EventKind.SNAPSHOT: "抓拍照片",
    EventKind.AUTO_SUBMIT: "自动交卷",
}
KINDS = {
    IncidentKind.MATERIALS: "携带资料",
    IncidentKind.IMPERSONATION: "替考",
    IncidentKind.TALKING: "交头接耳",
    IncidentKind.SWITCHING: "多次切屏",
    IncidentKind.EQUIPMENT: "设备故障",
    IncidentKind.OTHER: "其他",
}
DECISIONS = {
    Decision.NO_EFFECT: "不予处理",
    Decision.WARNING: "警告",
    Decision.PART_VOIDED: "本科目成绩作废",
    Decision.EXAM_VOIDED: "全部考试成绩作废",
}


def _local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(LOCAL_ZONE).strftime(fmt) if moment else "—"


@dataclass
class RoomRecord:
    """What the record of one room of a session says."""

    room: Room
    proctors: list[str]
    placed: int = 0
    checked_in: int = 0
    absent: list[tuple[int | None, str, str]] = field(default_factory=list)  # (seat, name, ticket)
    not_checked_in: int = 0
    incidents: list[tuple] = field(default_factory=list)  # rows for the table
    actions: list[tuple] = field(default_factory=list)
    #: Counts of the exam pages' signals (SIGNALS) of the room's candidates, and how many candidates had any.
    signals: dict[str, int] = field(default_factory=dict)
    signalled: dict[str, int] = field(default_factory=dict)


def _proctors(session: Session) -> dict[int | None, list[str]]:
    rows = db.session.execute(
        select(ProctorAssignment.room_id, User.name)
        .join(User, User.id == ProctorAssignment.user_id)
        .where(ProctorAssignment.session_id == session.id)
        .order_by(User.name)
    ).all()
    out: dict[int | None, list[str]] = defaultdict(list)
    for room_id, name in rows:
        out[room_id].append(name)
    return out


def room_record(
    session: Session, room: Room, proctors: dict | None = None, *, show_decisions: bool = True
) -> RoomRecord:
    """The figures and rows of one room's record (a few queries). `show_decisions`: print each incident's decision
    and its reason (for those who may decide: incident.decide); otherwise only whether it was decided (已处理)."""
    proctors = _proctors(session) if proctors is None else proctors
    record = RoomRecord(room=room, proctors=[*proctors.get(room.id, []), *proctors.get(None, [])])
    seats = db.session.execute(
        select(Seat, User.name)
        .join(User, User.id == Seat.user_id)
        .where(Seat.session_id == session.id, Seat.room_id == room.id)
        .order_by(Seat.seat_no, User.name)
    ).all()
    names = {seat.user_id: name for seat, name in seats}
    for seat, name in seats:
        record.placed += 1
        if seat.checked_in_at is not None:
            record.checked_in += 1
        elif seat.absent_at is not None:
            record.absent.append((seat.seat_no, name, seat.ticket_no))
        else:
            record.not_checked_in += 1
    for incident in db.session.scalars(
        select(Incident)
        .where(Incident.session_id == session.id, Incident.room_id == room.id)
        .order_by(Incident.at, Incident.id)
    ):
        if not incident.decision:
            decision = "待处理"
        elif not show_decisions:
            decision = "已处理"
        else:
            decision = DECISIONS.get(incident.decision, "已处理")
            if incident.decision_reason:
                decision += f"：{incident.decision_reason}"
        text = incident.description + (f"（证据：{incident.evidence}）" if incident.evidence else "")
        record.incidents.append(
            (_local(incident.at, "%H:%M"), incident.user.name, KINDS.get(incident.kind, incident.kind), text, decision)
        )
    if names:
        record.signals = {kind.value: 0 for kind in SIGNALS}
        record.signalled = {kind.value: 0 for kind in SIGNALS}
        for kind, count, people in db.session.execute(
            select(AttemptEvent.kind, func.count(), func.count(distinct(Attempt.user_id)))
            .join(Attempt, Attempt.id == AttemptEvent.attempt_id)
            .where(Attempt.exam_id == session.exam_id, Attempt.user_id.in_(list(names)),
                   AttemptEvent.kind.in_([k.value for k in SIGNALS]))
            .group_by(AttemptEvent.kind)
        ):  # fmt: skip
            record.signals[kind], record.signalled[kind] = count, people
        events = db.session.execute(
            select(AttemptEvent, Attempt.user_id)
            .join(Attempt, Attempt.id == AttemptEvent.attempt_id)
            .where(
                Attempt.exam_id == session.exam_id,
                Attempt.user_id.in_(list(names)),
                AttemptEvent.kind.in_([k.value for k in ACTIONS]),
            )
            .order_by(AttemptEvent.at, AttemptEvent.id)
        ).all()
        actors = {
            u.id: u.name
            for u in db.session.scalars(
                select(User).where(User.id.in_({(e.detail or {}).get("by") for e, _u in events} - {None}))
            )
        }
        for event, user_id in events:
            detail = event.detail or {}
            what = ACTIONS[EventKind(event.kind)]
            if detail.get("minutes"):
                what += f" {detail['minutes']} 分钟"
            record.actions.append(
                (_local(event.at, "%H:%M"), names[user_id], what, detail.get("reason") or "—",
                 actors.get(detail.get("by"), "—"))
            )  # fmt: skip
    return record


def session_records(session: Session, *, show_decisions: bool = True) -> list[RoomRecord]:
    proctors = _proctors(session)
    return [room_record(session, link.room, proctors, show_decisions=show_decisions) for link in session.rooms]


# ---------------------------------------------------------------- the PDFs


def _head(pdf: Pdf, title: str, session: Session, room: Room | None) -> None:
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 11, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 7, f"{session.exam.title}（{session.exam.code}）", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    lines = [
        ("场次", f"{session.name}　{_local(session.starts_at)} 至 {_local(session.ends_at, '%H:%M')}"),
        ("签到时间", f"{_local(session.checkin_opens_at)} 至 {_local(session.checkin_closes_at, '%H:%M')}"),
    ]
    if room is not None:
        lines.append(("考场", f"{room.name}　{room.address or ''}".strip()))
    for caption, value in lines:
        pdf.cell(28, 7, caption + "：")
        pdf.multi_cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")


def _section(pdf: Pdf, title: str) -> None:
    pdf.ln(3)
    pdf.keep_room(22)
    pdf.set_font("cjk", size=13)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)


def _incidents(pdf: Pdf, rows: list[tuple], with_room: bool = False) -> None:
    if not rows:
        pdf.cell(0, 7, "无。", new_x="LMARGIN", new_y="NEXT")
        return
    head = (
        ("考场", "时间", "考生", "类型", "情况", "处理决定")
        if with_room
        else ("时间", "考生", "类型", "情况", "处理决定")
    )
    widths = (22, 14, 20, 22, 60, 52) if with_room else (14, 22, 24, 70, 60)
    pdf.data_table([head, *rows], widths)


def _actions(pdf: Pdf, rows: list[tuple], with_room: bool = False) -> None:
    if not rows:
        pdf.cell(0, 7, "无。", new_x="LMARGIN", new_y="NEXT")
        return
    head = (
        ("考场", "时间", "考生", "操作", "原因", "操作人") if with_room else ("时间", "考生", "操作", "原因", "操作人")
    )
    widths = (22, 14, 20, 34, 60, 26) if with_room else (14, 24, 38, 86, 28)
    pdf.data_table([head, *rows], widths)


def _signals(pdf: Pdf, records: list[RoomRecord]) -> None:
    """The signals' counts (times, and how many candidates), summed over the rooms; kinds never seen left out."""
    rows = []
    for kind, label in SIGNALS.items():
        count = sum(r.signals.get(kind.value, 0) for r in records)
        people = sum(r.signalled.get(kind.value, 0) for r in records)
        if count:
            rows.append((label, str(count), str(people)))
    if not rows:
        pdf.multi_cell(0, 7, "无。", new_x="LMARGIN", new_y="NEXT")
        return
    pdf.data_table([("信号", "次数", "涉及考生（人）"), *rows], (60, 30, 40))


def _signatures(pdf: Pdf, who: str, now: datetime) -> None:
    pdf.ln(8)
    pdf.keep_room(34)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, f"{who}签名：", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for _i in range(2):
        pdf.cell(90, 8, "签名：________________________")
        pdf.cell(0, 8, "日期：______年____月____日", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font("cjk", size=8)
    pdf.set_text_color(110, 110, 110)
    pdf.cell(0, 6, f"本记录由系统于 {_local(now)} 生成。", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)


def room_record_pdf(session: Session, room: Room, now: datetime, *, show_decisions: bool = True) -> bytes:
    """One room's sitting record, to be signed by its proctors (`show_decisions`: see room_record; the views pass
    whether the viewer may decide)."""
    record = room_record(session, room, show_decisions=show_decisions)
    pdf = Pdf()
    _head(pdf, "考场记录", session, room)
    pdf.cell(28, 7, "监考员：")
    pdf.multi_cell(0, 7, "、".join(record.proctors) or "—", new_x="LMARGIN", new_y="NEXT")
    _section(pdf, "一、考生出勤")
    pdf.multi_cell(
        0,
        7,
        f"应考 {record.placed} 人，签到 {record.checked_in} 人，缺考 {len(record.absent)} 人"
        + (f"，未签到（未记缺考）{record.not_checked_in} 人" if record.not_checked_in else "")
        + "。",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if record.absent:
        pdf.data_table(
            [("座位号", "姓名", "准考证号"), *((str(s or "—"), n, t) for s, n, t in record.absent)], (20, 60, 60)
        )
    _section(pdf, "二、违纪及异常情况")
    _incidents(pdf, record.incidents)
    _section(pdf, "三、监考操作（延时、暂停、强制交卷等）")
    _actions(pdf, record.actions)
    _section(pdf, "四、作答页面记录的信号")
    _signals(pdf, [record])
    _signatures(pdf, "监考员", now)
    return bytes(pdf.output())


def session_record_pdf(session: Session, now: datetime, *, show_decisions: bool = True) -> bytes:
    """The session's summary: every room's counts, then all incidents and actions, room by room."""
    records = session_records(session, show_decisions=show_decisions)
    pdf = Pdf()
    _head(pdf, "考场记录汇总", session, None)
    _section(pdf, "一、各考场出勤")
    rows = [("考场", "监考员", "应考", "签到", "缺考", "违纪/异常", "监考操作")]
    for r in records:
        rows.append((r.room.name, "、".join(r.proctors) or "—", r.placed, r.checked_in, len(r.absent),
                     len(r.incidents), len(r.actions)))  # fmt: skip
    total = ("合计", "", *(sum(row[i] for row in rows[1:]) for i in range(2, 7)))
    pdf.data_table([*rows, total], (30, 50, 20, 20, 20, 25, 25))
    absent = [(r.room.name, str(s or "—"), n, t) for r in records for s, n, t in r.absent]
    if absent:
        _section(pdf, "缺考名单")
        pdf.data_table([("考场", "座位号", "姓名", "准考证号"), *absent], (40, 20, 60, 60))
    _section(pdf, "二、违纪及异常情况")
    _incidents(pdf, [(r.room.name, *row) for r in records for row in r.incidents], with_room=True)
    _section(pdf, "三、监考操作")
    _actions(pdf, [(r.room.name, *row) for r in records for row in r.actions], with_room=True)
    _section(pdf, "四、作答页面记录的信号")
    _signals(pdf, records)
    _signatures(pdf, "考务负责人", now)
    return bytes(pdf.output())
