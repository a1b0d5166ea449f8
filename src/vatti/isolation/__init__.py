"""Keeping jobs apart from the service and from each other.

When the service runs as root, each job's commands run under a uid of their own, leased from a
configured range (:mod:`vatti.isolation.uids`), in a sandbox that hands the job its work area
and staged inputs and nothing else (:mod:`vatti.isolation.sandbox`); the service's and the
runtime's processes are made unreadable through ``/proc`` and the data dir private
(:mod:`vatti.isolation.hardening`).
"""
