"""Incremental sync: plan windows, fetch, keep raw pages, replace windows atomically."""
