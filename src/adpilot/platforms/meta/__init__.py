"""Meta Marketing API (Graph): client, mapping, adapter."""
