"""The book: valuation, risk, scenarios, options, sizing, trades, the hedging plan, edits and
alerts.
"""
