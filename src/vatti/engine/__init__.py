"""The engine: control loops that drive jobs through their lifecycle.

Entry points: :class:`vatti.engine.service.Engine` (wiring, ``cancel``, ``nudge``),
:func:`vatti.engine.service.run_engine` and :func:`vatti.engine.oneshot.run_one`.
"""
