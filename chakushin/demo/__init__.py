"""The chakushin demo without Asterisk, and the loopback peers it uses.

``chakushin demo`` runs the notifier against recorded Asterisk AMI streams
instead of a live PBX. The pieces it needs live here, as product code so
that they work on a fresh machine with nothing but the installed package:

- ``recordings``: the recorded Asterisk 22.10.1 AMI streams shipped in
  ``traces/`` (see ``traces/README.md``), and the helpers that turn them
  into what chakushin's own dialplan would publish, renumbered per call.
- ``amiserver``: a real AMI server on 127.0.0.1 that logs a client in and
  streams those frames to it.

The test suite uses the same peers (tests/notifier), so the demo replays
exactly what the tests check.
"""
