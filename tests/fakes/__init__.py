"""Faithful local fakes of the third-party services swapwatch notifies (PagerDuty, Slack)."""
