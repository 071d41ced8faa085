"""Grids (GB/T 34300-2017 城乡社区网格化服务管理规范): the tree of streets, communities,
grids, micro-grids and households that officials manage (pages and CSV import), and the
grid workers (网格员) assigned to grids for a period.

Part of the shell: it builds on users and communities (app/models.py) and names no domain.
Later code that acts on a resident's behalf asks :func:`app.grids.workers.may_act_for`.
"""

from __future__ import annotations


def init_app(app) -> None:
    from app.grids import views
    from app.grids.cli import create_grid_worker
    from app.grids.demo import load_demo
    from app.registry import registry

    found = registry(app)
    found.models("app.grids.models")
    found.pages(views.bp, views.worker_bp)
    found.command(create_grid_worker)
    found.demo("grids", load_demo)
