"""Benchmark harness: clue bot against bare Bolt apps on the same server stack, same run, same machine.

``python -m bench [--quick] [--duration S] [--out DIR] [--driver wrk|python]``; see ``bench/README.md``.
"""
