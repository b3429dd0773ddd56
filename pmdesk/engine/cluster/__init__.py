"""Beyond one machine (DESIGN §13): a plan's runs placed on a Ray cluster.

A run travels as a git bundle of its start plus its prompt, executor and settings; a Ray actor on a
worker clones it, runs the same executor code as this machine would, and keeps one ordered stream of
what happened (events, usage, outcomes) that this machine reads and records as for a local run. When
the run ends its new commits come back as a bundle onto the task's branch. Ray is imported only when
a cluster is used, and never on the loop's thread: it is the optional extra ``pmdesk[ray]``.
"""
