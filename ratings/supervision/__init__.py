"""Supervision: the rule set, exclusions, the evaluator, its stored runs and penalty reports.

- :mod:`.models` — the tables (rule-set versions, exclusions, runs, snapshots,
  penalty reports, early warnings) and the penalty report's state machine;
- :mod:`.rules` — the rule set: defaults, validation, new versions, the grade rule;
- :mod:`.evaluator` — a pure function (session, rule set, as-of) → per-provider
  figures, grade and breaches, from :mod:`ratings.scorecard`'s definitions;
- :mod:`.runs` — storing a run once per as-of (idempotent, safe with two schedulers);
- :mod:`.reports` — penalty reports: the ladder, evidence, notifications;
- :mod:`.exclusions`, :mod:`.jobs`, :mod:`.views`, :mod:`.api`, :mod:`.forms`.
"""
