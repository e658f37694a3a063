"""The views that look inside runs (weights, histograms, loss terms, confusion, mistakes), each a
thin drawing layer over ``regui.core.diagnostics``."""
