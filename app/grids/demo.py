"""Demo grids for ``make run``: the demo communities under their streets, a few grids,
a micro-grid and households with the demo residents placed, and one grid worker
(张网格员, 13500000001) assigned to 城里社区's first grid — she sees 王阿姨, not 陈奶奶,
who lives in the second grid.  Made through the services (so audited, as the demo
official); loading twice changes nothing.  Runs after the providers' loader, which makes
the communities and the people (it names no domain module: it finds them by code/phone).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import today
from app.grids import services, workers
from app.grids.models import Grid, Household
from app.models import Community, Role, User

DEMO_PASSWORD = "linli-demo"
OFFICIAL_PHONE = "13900000001"
WORKER_PHONE = "13500000001"
WORKER_NAME = "张网格员"

STREETS = {  # community code: (district, street)
    "zichuan-chengli": ("淄川区", "般阳路街道"),
    "zichuan-banyang": ("淄川区", "般阳路街道"),
    "zichuan-songling": ("淄川区", "松龄路街道"),
    "chuxiong-dongxing": ("楚雄市", "鹿城镇"),
}
GRIDS = [  # community, code, name, parent code
    ("zichuan-chengli", "CL-01", "第一网格", None),
    ("zichuan-chengli", "CL-01-A", "一号楼微网格", "CL-01"),
    ("zichuan-chengli", "CL-02", "第二网格", None),
    ("zichuan-banyang", "BY-01", "第一网格", None),
    ("zichuan-songling", "SL-01", "第一网格", None),
]
HOUSEHOLDS = [  # community, grid code, code, address, resident phones
    ("zichuan-chengli", "CL-01-A", "CL-0101-101", "般阳路12号1号楼1单元101室", ["13800000001"]),
    ("zichuan-chengli", "CL-01", "CL-0103-202", "般阳路12号3号楼2单元202室", []),
    ("zichuan-chengli", "CL-02", "CL-0205-301", "般阳路18号5号楼3单元301室", ["13800000003"]),
    ("zichuan-banyang", "BY-01", "BY-0102-101", "松龄东路6号2号楼1单元101室", ["13800000002"]),
]


def load_demo(session: Session) -> bool:
    official = session.scalar(sa.select(User).where(User.phone == OFFICIAL_PHONE))
    communities = {c.code: c for c in session.scalars(sa.select(Community).where(Community.code.in_(STREETS)))}
    if official is None or not communities:
        return False
    if session.scalar(sa.select(Grid.id).where(Grid.code == "CL-01")) is not None:
        return False
    for code, (district, street) in STREETS.items():
        if code in communities:
            services.place_community(session, official, communities[code], street_name=street, district=district)
    grids: dict[tuple[str, str], Grid] = {}
    for community_code, code, name, parent in GRIDS:
        if community_code not in communities:
            continue
        parent_id = grids[(community_code, parent)].id if parent else None
        grids[(community_code, code)] = services.create_grid(session, official, communities[community_code],
                                                             code=code, name=name, parent_id=parent_id)
    for community_code, grid_code, code, address, phones in HOUSEHOLDS:
        if (community_code, grid_code) not in grids:
            continue
        household: Household = services.create_household(session, official, grids[(community_code, grid_code)],
                                                         code=code, address=address)
        for phone in phones:
            if session.scalar(sa.select(User.id).where(User.phone == phone, User.role == Role.RESIDENT)):
                services.add_member(session, official, household, phone)
    worker = session.scalar(sa.select(User).where(User.phone == WORKER_PHONE))
    if worker is None:
        from app.auth.services import create_user

        worker = create_user(session, phone=WORKER_PHONE, name=WORKER_NAME, password=DEMO_PASSWORD,
                             role=Role.GRID_WORKER)
    if ("zichuan-chengli", "CL-01") in grids:
        workers.assign(session, official, phone=WORKER_PHONE, grid_id=grids[("zichuan-chengli", "CL-01")].id,
                       valid_from=today() - timedelta(days=30), valid_until=None)
    session.flush()
    return True
