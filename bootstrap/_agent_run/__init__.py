"""agent-run's Python side: loaded by the bootstrap's sitecustomize.

Nothing here is imported unless the agent starts, and nothing here imports
more than the interpreter has already loaded at startup (sys, os).
"""
