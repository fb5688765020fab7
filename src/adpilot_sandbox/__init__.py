"""adpilot_sandbox: a simulated ad market behind imitations of the Meta, X and TikTok APIs.

It imports nothing from ``adpilot`` and speaks only the platforms' wire formats.
"""
