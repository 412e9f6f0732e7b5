"""hedgedesk's user interfaces: the Textual desk (``hedgedesk.tui.app``) and the command line."""
