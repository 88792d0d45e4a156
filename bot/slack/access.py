"""Who may look up clues where: workspace, user and channel allow lists, shared-channel rules.

Each check returns the name of the rule that refused (shown to the person, logged for the operator)
or None when allowed. An empty allow list means "everyone". Whether a conversation is shared with
another organisation (Slack Connect) is decided the same way on every surface: shared, or not known
(Slack would not say), refuses unless ``CLUE_ALLOW_SHARED_CHANNELS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.inbound import Inbound

# Unknown because the app is not in the conversation (Slack answered channel_not_found): refused all the same,
# with what to do instead of "ask for access" (``bot.slack.notices``).
CONVERSATION_HIDDEN = "conversation_hidden"
DM_HIDDEN = "direct_message_hidden"
HIDDEN_RULES = frozenset({CONVERSATION_HIDDEN, DM_HIDDEN})


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The allow lists and the Slack Connect rule, checked for whoever sent a request."""

    allowed_team_ids: frozenset[str] = frozenset()
    allowed_user_ids: frozenset[str] = frozenset()
    allowed_channel_ids: frozenset[str] = frozenset()
    unfurl_channel_ids: frozenset[str] = frozenset()
    allow_shared_channels: bool = False
    admin_contact: str = "your Slack admin"

    def check_team(self, who: Inbound) -> str | None:
        if not self.allowed_team_ids:
            return None
        if who.user_team_id is not None and who.user_team_id != who.team_id:
            # Someone from another workspace (a Slack Connect guest, or another workspace of a Grid org):
            # the payload's enterprise is the org where they clicked, not theirs, so only their own
            # workspace id can admit them.
            return None if who.user_team_id in self.allowed_team_ids else "workspace"
        if who.team_id in self.allowed_team_ids or who.enterprise_id in self.allowed_team_ids:
            return None
        return "workspace"

    def check_lookup(self, who: Inbound) -> str | None:
        if (refused := self.check_team(who)) is not None:
            return refused
        if self.allowed_user_ids and who.user_id not in self.allowed_user_ids:
            return "user"
        if self.allowed_channel_ids and who.channel_id not in self.allowed_channel_ids:
            return "channel"
        return None

    def check_unfurl(self, who: Inbound) -> str | None:
        # An unfurl is a lookup by the person who posted the link (or clicked Refresh on it).
        if (refused := self.check_lookup(who)) is not None:
            return refused
        if self.unfurl_channel_ids and who.channel_id not in self.unfurl_channel_ids:
            return "unfurl_channel"
        return self.check_audience(who)

    def check_share(self, who: Inbound) -> str | None:
        if (refused := self.check_lookup(who)) is not None:
            return refused
        return self.check_audience(who)

    def check_audience(self, who: Inbound) -> str | None:
        """A card everyone in the conversation sees: not in Slack Connect unless allowed, and not where it
        is unknown (``slack_connect`` None: fail closed)."""
        if who.slack_connect is not False and not self.allow_shared_channels:
            if who.slack_connect is None and who.conversation_hidden:
                return DM_HIDDEN if who.direct_message else CONVERSATION_HIDDEN
            return "shared_channel"
        return None

    def check_search(self, who: Inbound) -> str | None:
        # Results name people and show their phones (masked): not in Slack Connect channels either.
        if (refused := self.check_lookup(who)) is not None:
            return refused
        return self.check_conversation(who)

    def check_details(self, who: Inbound) -> str | None:
        """The Work Object details pane: the whole clue for its viewer, so the lookup rules, the conversation
        rule, and, where people from other organisations may be present (a shared or unknown conversation),
        the viewer's own workspace: Slack's event does not name it, so the team allow list refuses there."""
        if (refused := self.check_lookup(who)) is not None:
            return refused
        if (refused := self.check_conversation(who)) is not None:
            return refused
        if self.allowed_team_ids and who.slack_connect is not False and who.user_team_id is None:
            return "workspace"
        return None

    def check_conversation(self, who: Inbound) -> str | None:
        """An answer for one person in a conversation: refused in Slack Connect unless allowed, and where it is
        unknown (fail closed, as for Share). Without a conversation (a modal from a shortcut) there is none to
        check; the team allow list still checks the person."""
        if who.channel_id is None:
            return None
        return self.check_audience(who)
