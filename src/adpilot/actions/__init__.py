"""Guardrails, approvals and the executor: every change the agent proposes passes through here."""
