"""The pure core: job states and transitions, request models, fingerprints, job records.

Nothing in this package performs I/O; the store and the engine build on it.
"""
