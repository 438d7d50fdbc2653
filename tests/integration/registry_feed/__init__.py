"""The registry side of the ownership feed, end to end."""
