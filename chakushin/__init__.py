"""chakushin: incoming-call notification mail (着信お知らせメール) for Asterisk PBXs.

This package holds what the other packages share at the edge: the typed
configuration, logging set-up and the ``chakushin`` command.
"""
