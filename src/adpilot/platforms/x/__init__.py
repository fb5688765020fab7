"""X Ads API (v12): client, mapping, adapter, lake replay."""
