"""The creative studio: platform specs, the asset library and variant generation."""
