"""The desk's panes and tables."""
