"""hedgedesk's user interfaces: the Textual desk (``tui.app``) and the command line."""
