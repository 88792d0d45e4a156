"""The local playground: a fake Slack (Web API + response_url) and a page that shows the cards."""
