"""Reusable widgets and the renderers behind them (no screen logic here)."""
