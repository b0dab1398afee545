"""The plans domain's services, in four modules: templates, lifecycle (assign, versions,
pause, resume, end, reads), safety (the check and its warnings) and loading (plans as plain
data for adherence and the agenda)."""
from app.plans.lifecycle import (
    PlanOn,
    add_version,
    assign_plan,
    demo_plan,
    end,
    get_plan,
    list_plans,
    new_plan,
    pause,
    plan_status,
    resume,
    template_warnings,
)
from app.plans.loading import load_specs
from app.plans.safety import check_safety, safety_warnings, warning_texts
from app.plans.templates import template, templates

__all__ = [
    "add_version", "assign_plan", "check_safety", "demo_plan", "end", "get_plan", "list_plans", "load_specs",
    "new_plan", "pause", "plan_status", "resume", "safety_warnings", "template", "template_warnings", "templates", "PlanOn",
    "warning_texts",
]
