"""TikTok Business API v1.3: client, mapping, adapter."""
