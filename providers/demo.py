"""Demo data for ``make run``: communities, people, providers and listings.

Everything is created through the real services (so it carries its audit
trail).  Loading twice changes nothing.  The log-ins are listed in README.md.
"""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.auth.services import create_user
from app.clock import today
from app.models import Community, CommunityTier, Role, User
from providers import creditcode, listings, registration, uploads, vetting
from providers.listings import ListingInput, Window
from providers.models import ListingStatus, ServiceCategory, required_document

DEMO_PASSWORD = "linli-demo"

COMMUNITIES = [
    ("zichuan-chengli", "城里社区", "淄川区般阳路街道", CommunityTier.BENCHMARK),
    ("zichuan-banyang", "般阳社区", "淄川区般阳路街道", CommunityTier.GROWTH),
    ("zichuan-songling", "松龄社区", "淄川区松龄路街道", CommunityTier.BASIC),
    ("chuxiong-dongxing", "东兴社区", "楚雄市鹿城镇", CommunityTier.BASIC),
]

PEOPLE = [
    ("13900000001", "王科长", Role.OFFICIAL, None),
    ("13900000002", "刘科员", Role.OFFICIAL, None),
    ("13900000009", "系统管理员", Role.ADMIN, None),
    ("13800000001", "王阿姨", Role.RESIDENT, "zichuan-chengli"),
    ("13800000002", "李大爷", Role.RESIDENT, "zichuan-banyang"),
    ("13800000003", "陈奶奶", Role.RESIDENT, "zichuan-chengli"),
]

WEEKDAYS_9_TO_17 = [Window(d, 9 * 60, 17 * 60, 2) for d in range(5)]
EVERY_DAY_MORNING = [Window(d, 8 * 60, 12 * 60, 3) for d in range(7)]

CHENGLI, BANYANG, SONGLING, DONGXING = "zichuan-chengli", "zichuan-banyang", "zichuan-songling", "chuxiong-dongxing"

# name, staff phone, staff name, categories, communities, outcome, listings; each listing serves
# some of its provider's communities, so each community's catalogue differs: 城里社区 has the
# doctor's rounds, the day-care centre and the deep clean; 般阳社区 hourly cleaning and repairs.
PROVIDERS = [
    (
        "安康居家养老服务中心", "13700000001", "赵主任",
        ["home_care", "meal_delivery", "home_medical", "day_care"],
        ["zichuan-chengli", "zichuan-banyang", "zichuan-songling"], "approve",
        [
            ("meal_delivery", "老年助餐送餐上门", "每日午餐营养配餐，荤素搭配，少油少盐，送餐到家。", 1500, "per_visit", 30, 2, EVERY_DAY_MORNING, [CHENGLI, BANYANG, SONGLING]),
            ("home_care", "居家照护（助浴、助洁）", "护理员上门协助洗浴、整理房间、陪伴聊天，持证上岗。", 6000, "per_hour", 60, 4, WEEKDAYS_9_TO_17, [CHENGLI, BANYANG]),
            ("home_medical", "家庭医生上门巡诊", "测量血压血糖、用药指导、慢病随访，签约家庭医生上门。", 8000, "per_visit", 45, 24, WEEKDAYS_9_TO_17, [CHENGLI]),
            ("day_care", "日间照料中心托养", "白天托管，含午餐午休、康复活动，傍晚接送回家。", 12000, "per_visit", 480, 24, [Window(d, 8 * 60, 17 * 60, 10) for d in range(5)], [CHENGLI]),
        ],
    ),
    (
        "洁美家政服务有限公司", "13700000002", "孙经理",
        ["housekeeping", "repairs"],
        ["zichuan-chengli", "zichuan-banyang", "chuxiong-dongxing"], "approve",
        [
            ("housekeeping", "上门深度保洁（两小时）", "厨房油污、卫生间除垢、地面清洁，自带工具和环保清洁剂。", 12000, "per_visit", 120, 4, WEEKDAYS_9_TO_17, [CHENGLI]),
            ("housekeeping", "日常保洁（按小时）", "日常打扫、整理收纳，适合独居老人家庭。", 4500, "per_hour", 60, 4, WEEKDAYS_9_TO_17, [BANYANG, DONGXING]),
            ("repairs", "水电维修上门", "水龙头、马桶、开关插座、灯具更换维修，材料费另计。", 5000, "per_visit", 60, 2, EVERY_DAY_MORNING, [BANYANG, DONGXING]),
        ],
    ),
    (
        "新邻维修服务部", "13700000003", "周师傅",
        ["repairs"], ["zichuan-songling"], None, [],
    ),
    (
        "速达充电科技有限公司", "13700000004", "吴工",
        ["ev_charger", "delivery_locker"], ["zichuan-chengli"], "reject", [],
    ),
]


def demo_credit_code(n: int) -> str:
    body = f"91370302MA{n:06d}X"[:17]
    return body + creditcode.check_character(body)


def demo_pdf(title: str) -> bytes:
    """A minimal one-page PDF standing in for a scanned licence."""
    text = title.encode("ascii", "replace")
    content = b"BT /F1 18 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{i} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def load_demo(session: Session) -> bool:
    """Create the demo data; return False when it is already there."""
    if session.scalar(sa.select(Community).where(Community.code == COMMUNITIES[0][0])):
        return False
    communities = {}
    for code, name, district, tier in COMMUNITIES:
        communities[code] = Community(code=code, name=name, district=district, tier=tier)
        session.add(communities[code])
    session.flush()

    people: dict[str, User] = {}
    for phone, name, role, community_code in PEOPLE:
        people[phone] = create_user(
            session, phone=phone, name=name, password=DEMO_PASSWORD, role=role,
            community=communities.get(community_code),
        )
    official = people["13900000001"]
    categories = {c.code: c for c in session.scalars(sa.select(ServiceCategory))}

    for n, (name, phone, staff_name, cats, served, outcome, offered) in enumerate(PROVIDERS, start=1):
        provider, staff = registration.register_provider(
            session,
            registration.ProviderDetails(
                name=name, credit_code=demo_credit_code(n), legal_representative=staff_name,
                contact_name=staff_name, contact_phone=phone, address="山东省淄博市淄川区",
                description=f"{name}，服务社区居民。",
                category_ids=[categories[c].id for c in cats],
                community_ids=[communities[c].id for c in served],
            ),
            staff_name=staff_name, staff_phone=phone, password=DEMO_PASSWORD,
        )
        stored = uploads.save_document(io.BytesIO(demo_pdf(f"Business licence {n}")), "营业执照.pdf")
        registration.add_document(
            session, provider, stored, kind="business_licence",
            expires_on=today() + timedelta(days=365 * 3), actor=staff,
        )
        # The qualifications its categories need (providers.models.REQUIRED_DOCUMENTS).
        needed = {required_document(categories[c]) for c in cats} - {None}
        for kind in sorted(needed):
            stored = uploads.save_document(io.BytesIO(demo_pdf(f"{kind} {n}")), f"{kind}.pdf")
            registration.add_document(
                session, provider, stored, kind=kind, expires_on=today() + timedelta(days=365 * 2), actor=staff,
            )
        if outcome == "approve":
            vetting.decide(session, provider, "approve", official=official)
        elif outcome == "reject":
            vetting.decide(
                session, provider, "reject", official=official,
                reason="营业执照照片不清晰，且缺少充电设施安装资质证书，请补充后重新提交。",
            )
        for cat, title, description, price, unit, minutes, hours, windows, where in offered:
            listing = listings.create_listing(
                session, provider,
                ListingInput(
                    category_id=categories[cat].id, title=title, description=description,
                    price_fen=price, pricing_unit=unit, duration_minutes=minutes,
                    response_hours=hours, community_ids=[communities[c].id for c in where],
                    availability=windows,
                ),
                actor=staff,
            )
            listings.change_status(session, listing, ListingStatus.PUBLISHED, actor=staff)
    return True
