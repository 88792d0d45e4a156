"""The Slack side of clue bot: listeners, link parsing, access rules, cards and their strings."""
