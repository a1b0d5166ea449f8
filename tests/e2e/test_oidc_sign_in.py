"""OpenID Connect sign-in through real ``vatti serve`` replicas and the provider stand-in.

Two API replicas share a database and a service key, as behind a load balancer: the sign-in
starts on one and the provider sends the browser back to the other, which finishes it; the
session then works on both, and a cancel made from the dashboard names the OIDC subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import JOBS, free_port
from tests.e2e.processes import Cluster

from vatti.secretbox import new_key
from vatti.testing.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

pytestmark = pytest.mark.e2e

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    started = OidcProvider().start()
    yield started
    started.stop()


def test_a_sign_in_begun_on_one_replica_finishes_on_another_and_names_the_canceller(
    tmp_path: Path, provider: OidcProvider
) -> None:
    port_a, port_b = free_port(), free_port()
    callback = f"http://127.0.0.1:{port_b}/dashboard/oidc/callback"
    provider.redirect_uris.add(callback)
    cluster = Cluster(
        tmp_path,
        VATTI_SECRET_KEY=new_key(),
        VATTI_OIDC_ISSUER=provider.issuer,
        VATTI_OIDC_CLIENT_ID=CLIENT_ID,
        VATTI_OIDC_CLIENT_SECRET=CLIENT_SECRET,
        VATTI_OIDC_REDIRECT_URL=callback,
        VATTI_OIDC_SCOPES="openid profile groups",
        VATTI_OIDC_SCOPE_MAP="vatti-ops=admin;lab-a=read",
        VATTI_OIDC_TENANT_CLAIM="org",
    )
    try:
        cluster.api("api-a", port_a)
        cluster.api("api-b", port_b)
        a, b = (f"http://127.0.0.1:{port}" for port in (port_a, port_b))
        auth = {"Authorization": f"Bearer {cluster.token}"}
        with httpx.Client(headers=auth, timeout=10) as api:
            created = api.post(
                f"{a}{JOBS}", json={"pipeline": "command", "params": {"command": "noop"}}
            )
            assert created.status_code == 201, created.text
            job = created.json()["id"]  # no engine runs: it stays queued

            provider.state.user = {"sub": "grace-01", "groups": ["vatti-ops"]}
            with httpx.Client(timeout=10) as browser:  # one cookie jar for both (same host)
                start = browser.get(
                    f"{a}/dashboard/login/oidc", params={"next": f"/dashboard/jobs/{job}"}
                )
                assert start.status_code == 303, start.text
                authorize = httpx.get(start.headers["location"], timeout=10)
                assert authorize.status_code == 302, authorize.text
                back = authorize.headers["location"]
                assert back.startswith(callback + "?")
                finished = browser.get(back)  # on replica b
                assert finished.status_code == 303, finished.text
                assert finished.headers["location"] == f"/dashboard/jobs/{job}"

                detail = browser.get(f"{a}/dashboard/jobs/{job}")  # the session holds on a too
                assert detail.status_code == 200, detail.text
                token = CSRF.search(detail.text)
                assert token is not None
                cancelled = browser.post(
                    f"{a}/dashboard/jobs/{job}/cancel", data={"csrf": token.group(1)}
                )
                assert cancelled.status_code == 303, cancelled.text
            events = api.get(f"{b}{JOBS}/{job}/events").json()["events"]
            assert [e["actor"] for e in events if e["event"] == "cancel"] == ["oidc:grace-01"]
            logs = "".join(p.log() for p in cluster.procs)
            assert "oidc.signed_in actor=oidc:grace-01 tenant=default scopes=admin" in logs
            assert CLIENT_SECRET not in logs
            assert "eyJ" not in logs  # no token of the provider's
    finally:
        cluster.stop_all()
