"""The web dashboard at ``/dashboard``: server-rendered pages over the job service.

:func:`vatti.dashboard.app.dashboard_app` builds it (mounted by :func:`vatti.api.app.create_app`);
:mod:`vatti.dashboard.session` signs people in; every read goes through
:class:`~vatti.service.jobs.JobService` as the signed-in :class:`~vatti.domain.access.Caller`.
"""
