"""clue bot: Tanmarket (探马 SCRM) CRM clues as Slack Block Kit cards."""

__version__ = "0.1.0"
