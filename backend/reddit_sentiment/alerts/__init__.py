"""Alerts: rules on the hourly aggregates, evaluated after every collection cycle, delivered
through Apprise.

    rules.py       what a rule is: validation, masking its notify URLs, ALERT_RULES_FILE
    evaluation.py  the window and baseline maths (pure) and the evaluator that reads the store
    message.py     an alert's title and body
    delivery.py    the delivery worker: Apprise, bounded retries, statuses in the store
    service.py     `Alerting`: evaluate, record, hand to the worker (the one call a cycle makes)
"""

from .rules import RuleError, build_rule, install_rules_file, load_rules_file, mask_url
from .service import Alerting

__all__ = [
    "Alerting",
    "RuleError",
    "build_rule",
    "install_rules_file",
    "load_rules_file",
    "mask_url",
]
