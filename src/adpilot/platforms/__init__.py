"""Platform adapters: Meta, X and TikTok behind one port, each with client, mapping and adapter modules."""
