"""The team's Block Kit validator on many files in one interpreter, for tests/blockkit.py.

``python tests/blockkit_batch.py VALIDATOR [--no-ts] FILE...`` prints one JSON object: for each file, what
``python VALIDATOR [--no-ts] FILE`` would have returned and printed (its own ``main`` runs once per file).
An interpreter start and slack_sdk's imports cost more than validating a golden does.
Standalone on purpose: it imports nothing of the project's.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from typing import Any


class _Switch(io.TextIOBase):
    """Standard output that writes to whichever buffer is current: the validator binds ``sys.stdout`` as a
    default argument when it is loaded, so each file's report is caught here, not by redirect_stdout."""

    def __init__(self) -> None:
        self.target = io.StringIO()

    def write(self, text: str) -> int:
        return self.target.write(text)


def main(argv: list[str]) -> int:
    validator, *rest = argv
    flags = [arg for arg in rest if arg.startswith("--")]
    files = [arg for arg in rest if not arg.startswith("--")]
    real_stdout, switch = sys.stdout, _Switch()
    sys.stdout = switch
    try:
        spec = importlib.util.spec_from_file_location("validate_blocks", validator)
        assert spec is not None and spec.loader is not None, validator
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        verdicts: dict[str, dict[str, Any]] = {}
        for path in files:
            switch.target = io.StringIO()
            code = module.main([*flags, path])
            verdicts[path] = {"returncode": code, "stdout": switch.target.getvalue()}
    finally:
        sys.stdout = real_stdout
    json.dump(verdicts, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
