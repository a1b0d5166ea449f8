"""OpenID Connect sign-in for the dashboard (the ``vatti[oidc]`` extra).

:mod:`~vatti.oidc.client` is the relying party (discovery, authorization request with PKCE,
code exchange, ID token verification), :mod:`~vatti.oidc.pending` keeps a sign-in between the
redirect and the callback, and :mod:`~vatti.oidc.routes` serves ``/dashboard/login/oidc`` and
``/dashboard/oidc/callback``; :mod:`vatti.domain.claims` maps the claims to a caller.
"""
