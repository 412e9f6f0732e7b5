"""The desk's screens and dialogs, each pushed over the desk by a key."""
