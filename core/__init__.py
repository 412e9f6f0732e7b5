"""hedgedesk engine: market data, book, risk, optimisation and sweeps. No UI imports here."""

__version__ = "0.1.0"
