"""The registries the shell owns, and the one list of domains that fill them.

``create_app`` walks :data:`DOMAINS` in order (the layers of ``docs/architecture.md``:
providers, then ratings, then billing) and calls each package's ``init_app(app)``.
A domain's ``init_app`` registers everything it has through :func:`registry` —
its pages and API blueprints, its models (for the metadata), signal receivers,
template globals and slots, CLI commands, scheduled jobs, notification kinds and
demo data — and calls the ``init_app`` of its sub-packages.  Nothing else reaches
into a domain: the shell imports no domain module, and a lower domain never names
a higher one (``make lint`` checks both with import-linter).

Domains are named as strings, like warehouse's ``config.include(".accounts")``,
so the shell's own modules import none of them.

Extending: a new kind of thing to register is one more method here; a new domain
module registers itself from its package's ``init_app``.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

# The domains, lowest layer first.  Each is a package with ``init_app(app)``.
DOMAINS: tuple[str, ...] = ("providers", "ratings", "billing")


def domain_modules() -> list:
    """The domain packages, imported, in layer order."""
    return [importlib.import_module(name) for name in DOMAINS]


def init_domains(app: Flask) -> None:
    for module in domain_modules():
        module.init_app(app)


@dataclass
class Job:
    """A scheduled job: ``fn(session) -> rows`` and its APScheduler trigger arguments."""

    fn: Callable
    trigger: dict


@dataclass
class Registry:
    """What the domains registered on one app (``app.extensions["linli.registry"]``)."""

    app: Flask
    api_blueprints: list = field(default_factory=list)
    receivers: list[tuple[str, Callable]] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    demo_loaders: list[tuple[str, Callable]] = field(default_factory=list)
    slots: dict[str, list[Callable]] = field(default_factory=lambda: defaultdict(list))
    facts: dict[str, Callable] = field(default_factory=dict)

    # -- pages and API ---------------------------------------------------------------
    def pages(self, *blueprints) -> None:
        """HTML blueprints (each view needs an access decorator: tests/test_access_rules.py)."""
        for blueprint in blueprints:
            self.app.register_blueprint(blueprint)

    def api(self, *blueprints) -> None:
        """flask-smorest blueprints under ``/api/v1`` (their own CSRF rule: app/api.py)."""
        from app.extensions import api, csrf

        for blueprint in blueprints:
            csrf.exempt(blueprint)
            api.register_blueprint(blueprint)
            self.api_blueprints.append(blueprint)

    # -- models, receivers, templates --------------------------------------------------
    def models(self, *modules: str) -> None:
        """Import the modules that define tables (or mapper events), so the metadata and
        the migrations see them."""
        for name in modules:
            importlib.import_module(name)

    def receiver(self, signal, fn: Callable) -> None:
        """Connect ``fn`` to a blinker signal (strongly: the receiver lives as long as the process)."""
        signal.connect(fn, weak=False)
        self.receivers.append((signal.name, fn))

    def template_global(self, name: str, fn: Callable) -> None:
        self.app.jinja_env.globals[name] = fn

    def slot(self, name: str, fill: Callable[[Any], str]) -> None:
        """Fill a named slot a template offers with ``{{ linli_slot(name, obj) }}``.

        A lower domain's page offers the slot; a higher domain fills it (a partial of
        its own, rendered for ``obj``).  Fillers render in registration order.
        """
        self.slots[name].append(fill)

    def render_slot(self, name: str, obj: Any = None) -> Markup:
        return Markup("".join(str(fill(obj)) for fill in self.slots.get(name, ())))

    def fact(self, name: str, answer: Callable[[Any], Any]) -> None:
        """Answer a named question about an object that a lower domain shows but a higher
        one stores (a sanction's fine is billing's): ``fact_of(name, obj)``."""
        self.facts[name] = answer

    def fact_of(self, name: str, obj: Any, default: Any = None) -> Any:
        answer = self.facts.get(name)
        return default if answer is None else answer(obj)

    # -- CLI, jobs, notifications, demo data -------------------------------------------
    def command(self, *commands) -> None:
        for command in commands:
            self.app.cli.add_command(command)

    def job(self, fn: Callable, **trigger) -> None:
        """A scheduled job, id ``fn.__name__`` (app/scheduler.py runs it in one transaction)."""
        if any(job.fn.__name__ == fn.__name__ for job in self.jobs):
            raise ValueError(f"job {fn.__name__} registered twice")
        self.jobs.append(Job(fn, dict(trigger)))

    def jobs_from(self, jobs: Iterable[tuple[Callable, dict]]) -> None:
        for fn, trigger in jobs:
            self.job(fn, **trigger)

    def notifications(self, *kinds: Mapping, labels: Mapping[str, Mapping] | None = None) -> None:
        """Notification kinds (kind → translatable text; several mappings of a domain's
        modules may be given, and a kind in two of them with two texts is refused) and
        labels for parameters stored as codes (parameter → {code: label})."""
        from app.notifications import register_kinds, register_labels

        for mapping in kinds:
            register_kinds(mapping)
        for param, mapping in (labels or {}).items():
            register_labels(param, mapping)

    def demo(self, name: str, loader: Callable) -> None:
        """``flask demo-data``: ``loader(session)`` adds this domain's demo data (idempotent)."""
        self.demo_loaders.append((name, loader))


def init_registry(app: Flask) -> Registry:
    found = Registry(app)
    app.extensions["linli.registry"] = found
    app.jinja_env.globals["linli_slot"] = found.render_slot
    return found


def registry(app: Flask | None = None) -> Registry:
    """The registry of ``app`` (default: the current app)."""
    return (app or current_app).extensions["linli.registry"]


def fact_of(name: str, obj: Any, default: Any = None) -> Any:
    return registry().fact_of(name, obj, default)
