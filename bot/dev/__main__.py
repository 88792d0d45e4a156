"""The development entry point: ``python -m bot.dev`` serves the playground (``make run``).

``python -m bot serve`` with Slack credentials left out (it says so when some are set): a fake Slack,
the sandbox CRM unless ``CRM_BASE_URL`` is set, and the playground page at ``http://HOST:PORT/``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.__main__ import main as bot_main


def main(argv: Sequence[str] | None = None) -> int:
    return bot_main(["serve", *(sys.argv[1:] if argv is None else argv)], playground=True)


if __name__ == "__main__":
    sys.exit(main())
