"""Alerts: tell someone when an asset becomes failed, overdue, degraded or fails a check.

    import headwater.alerts as hw_alerts

    rules = [
        hw_alerts.rule("finance-oncall", when=["overdue", "failed"], selection="group:marts",
                       channels=[hw_alerts.webhook("https://hooks.example.com/hw", secret_env="HOOK_SECRET")]),
        hw_alerts.rule("quality", when=["check_failed"],
                       channels=[hw_alerts.email("smtp.example.com", 587, "hw@example.com", "data@example.com",
                                                 username="hw", password_env="SMTP_PASSWORD", starttls=True)]),
    ]

One alert per transition (rule + asset starts firing), one RESOLVED notice when it
clears, every delivery attempt recorded in the store. `evaluate_alerts` is the entry
point; `transitions` is the pure decision underneath it.
"""

from headwater.alerts.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    ShellChannel,
    WebhookChannel,
    alert_payload,
    email,
    shell,
    subject,
    webhook,
)
from headwater.alerts.dispatch import AlertEvaluation, AlertStore, backoff_delay, deliver, evaluate_alerts
from headwater.alerts.rules import (
    AlertRule,
    Condition,
    ConditionKind,
    check_failed,
    resolve_selections,
    rule,
    validate_rules,
)
from headwater.alerts.transitions import active_conditions, is_active, transitions

__all__ = [
    "AlertEvaluation",
    "AlertRule",
    "AlertStore",
    "Channel",
    "Condition",
    "ConditionKind",
    "DeliveryError",
    "EmailChannel",
    "ShellChannel",
    "WebhookChannel",
    "active_conditions",
    "alert_payload",
    "backoff_delay",
    "check_failed",
    "deliver",
    "email",
    "evaluate_alerts",
    "is_active",
    "resolve_selections",
    "rule",
    "shell",
    "subject",
    "transitions",
    "validate_rules",
    "webhook",
]
