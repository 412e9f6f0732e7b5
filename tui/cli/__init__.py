"""The ``hedgedesk`` command line: one module per command group (not the Textual desk)."""
