"""Ratings, complaints, scorecards, the evaluator, penalty reports and appeals (later issues)."""
