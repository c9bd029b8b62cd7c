"""干部任免审批表 forms (.lrmx) of invented people, in the two layouts QualExam reads, for the tests, the benchmark
and anyone trying the import (`flask demo lrmx-forms DIR`). No real person is in them: the names are made up and
the ID numbers are built from a region code, the birth date and a running number, with a valid check character.

- layout "software": the 3.0 layout the department's form software writes: UTF-8, dates as 198501, party
  membership only as 入党时间, no employee number;
- layout "export": the same elements as other cadre systems export them: GB18030 declared, dates as 1985.01,
  an explicit 政治面貌 and a 工号, elements in another order, Windows line breaks.
"""

import base64
import io
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

from accounts.personal import check_digit


def id_number(birth: date, seq: int, male: bool, region: str = "330106") -> str:
    """An ID number of the right form for an invented person (sequence digits odd for men, even for women)."""
    order = (seq % 499) * 2 + (1 if male else 0)
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    return first17 + check_digit(first17)


def photo_jpeg(seed: int = 0, size=(295, 413)) -> bytes:
    """A small plain picture (a 1-inch photo's proportions), different per seed."""
    from PIL import Image

    image = Image.new("RGB", size, ((seed * 37) % 200 + 30, (seed * 91) % 200 + 30, (seed * 53) % 200 + 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


@dataclass
class Form:
    name: str = "林晓岚"
    male: bool = False
    birth: date = date(1991, 4, 12)
    seq: int = 7
    with_id: bool = True
    party: str = "201306"  # 入党时间 (a month), a party's name, or ""
    full_time: tuple = ("大学", "学士", "浙江工商大学法学专业")
    in_service: tuple = ("研究生", "硕士", "中共浙江省委党校政治学专业")
    resume: list = field(default_factory=lambda: [
        "2009.09--2013.07  浙江工商大学法学专业学生",
        "2013.07--2018.03  青山镇党政办公室科员",
        "2016.09--2019.07  中共浙江省委党校政治学专业在职研究生学习",
        "2018.03--  区委组织部干部科四级主任科员",
    ])  # fmt: skip
    post: str = "区委组织部干部科四级主任科员"
    assessments: str = "2022年度考核称职；2023年度考核优秀；2024年度考核称职"
    photo: bytes | None = None
    employee_number: str = ""
    extra: str = ""  # raw XML put before the end of the root (hostile tests)

    @property
    def id(self) -> str:
        return id_number(self.birth, self.seq, self.male) if self.with_id else ""


def _elements(form: Form, month) -> list[tuple[str, str]]:
    photo = base64.b64encode(form.photo).decode() if form.photo else ""
    return [
        ("XingMing", form.name), ("XingBie", "男" if form.male else "女"), ("ChuShengNianYue", month(form.birth)),
        ("MinZu", "汉族"), ("JiGuan", "浙江杭州"), ("ChuShengDi", "浙江杭州"), ("RuDangShiJian", form.party),
        ("CanJiaGongZuoShiJian", "201307"), ("JianKangZhuangKuang", "健康"), ("ZhuanYeJiShuZhiWu", ""),
        ("ShuXiZhuanYeYouHeZhuanChang", ""), ("QuanRiZhiJiaoYu_XueLi", form.full_time[0]),
        ("QuanRiZhiJiaoYu_XueWei", form.full_time[1]), ("QuanRiZhiJiaoYu_XueLi_BiYeYuanXiaoXi", form.full_time[2]),
        ("QuanRiZhiJiaoYu_XueWei_BiYeYuanXiaoXi", form.full_time[2]), ("ZaiZhiJiaoYu_XueLi", form.in_service[0]),
        ("ZaiZhiJiaoYu_XueWei", form.in_service[1]), ("ZaiZhiJiaoYu_XueLi_BiYeYuanXiaoXi", form.in_service[2]),
        ("ZaiZhiJiaoYu_XueWei_BiYeYuanXiaoXi", form.in_service[2]), ("XianRenZhiWu", form.post), ("NiRenZhiWu", ""),
        ("NiMianZhiWu", ""), ("JianLi", "\n".join(form.resume)), ("JiangChengQingKuang", "无"),
        ("NianDuKaoHeJieGuo", form.assessments), ("RenMianLiYou", ""), ("ChengBaoDanWei", "中共某区委组织部"),
        ("JiSuanNianLingShiJian", "202612"), ("TianBiaoShiJian", "20261201"), ("TianBiaoRen", "组织部干部科"),
        ("ShenFenZheng", form.id), ("ZhaoPian", photo), ("Version", "3.2.1.0"),
    ]  # fmt: skip


_FAMILY = ("<JiaTingChengYuan><Item><ChengWei>父亲</ChengWei><XingMing>林某</XingMing><ChuShengRiQi>196203"
           "</ChuShengRiQi><ZhengZhiMianMao>群众</ZhengZhiMianMao><GongZuoDanWeiJiZhiWu>退休</GongZuoDanWeiJiZhiWu>"
           "</Item></JiaTingChengYuan>")  # fmt: skip


def software(form: Form) -> bytes:
    """The layout of the department's form software (3.0): UTF-8, 198501."""
    body = "".join(
        f"<{tag}>{escape(value)}</{tag}>" if value else f"<{tag} />"
        for tag, value in _elements(form, lambda d: f"{d:%Y%m}")
    )
    xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Person xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
           f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{body}{_FAMILY}{form.extra}</Person>')  # fmt: skip
    return xml.encode("utf-8")


def export(form: Form) -> bytes:
    """Another system's export: GB18030, 1985.01, 政治面貌 and 工号 given, another order, CRLF."""
    elements = dict(_elements(form, lambda d: f"{d:%Y.%m}"))
    political = "中共党员" if form.party and form.party[:1].isdigit() else (form.party or "群众")
    elements.pop("RuDangShiJian")
    ordered = [("GongHao", form.employee_number), ("ZhengZhiMianMao", political)] + sorted(elements.items())
    body = "\r\n".join(f"  <{tag}>{escape(value)}</{tag}>" for tag, value in ordered)
    xml = f'<?xml version="1.0" encoding="GB2312"?>\r\n<Person>\r\n{body}\r\n{_FAMILY}{form.extra}\r\n</Person>\r\n'
    return xml.replace("\n", "\r\n").replace("\r\r\n", "\r\n").encode("gb18030")
