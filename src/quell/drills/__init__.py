"""Drills: rehearse the playbook by replaying scenario signals through the real pipeline."""

from quell.drills.runner import DrillReport, Scenario, load_scenarios, plan_signals, run_drill

__all__ = ["DrillReport", "Scenario", "load_scenarios", "plan_signals", "run_drill"]
