"""The Kafka settings: read by the engine only, SASL credentials checked, never in a job, the
password never printed; the client gets TLS and SASL from them."""

from __future__ import annotations

import os

import pytest

from vatti.config import COMPONENTS, KafkaSettings, Settings, runtime_launch_settings
from vatti.errors import ConfigError
from vatti.intake.kafka import KafkaOptions
from vatti.intake.wiring import kafka_wiring

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_vatti_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("VATTI_"):
            monkeypatch.delenv(name)


def test_only_the_engine_reads_them_and_kafka_is_off_by_default() -> None:
    assert [c for c, comp in COMPONENTS.items() if KafkaSettings in comp.groups] == ["engine"]
    settings = Settings.for_component("engine")
    assert settings.kafka == KafkaSettings()
    assert kafka_wiring(settings.kafka) is None
    defaults = KafkaSettings()
    assert (defaults.kafka_consumer_topic, defaults.kafka_producer_topic) == (
        "pipeline-launch",
        "pipeline-status",
    )
    assert defaults.kafka_tenant == "default"


def test_sasl_needs_both_credentials_and_the_password_is_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VATTI_KAFKA_BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("VATTI_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError) as caught:
        Settings.for_component("engine")
    assert "VATTI_KAFKA_SASL_USERNAME: required" in caught.value.message

    monkeypatch.setenv("VATTI_KAFKA_SASL_USERNAME", "vatti")
    monkeypatch.setenv("VATTI_KAFKA_SASL_PASSWORD", "s3cret-pw")
    settings = Settings.for_components("engine", "runtime")
    assert settings.kafka is not None
    options = KafkaOptions.from_settings(settings.kafka)
    assert "s3cret-pw" not in repr(options) + repr(settings.kafka)
    launch = runtime_launch_settings(settings, input_root=None)
    assert not [k for k in {**launch.env, **launch.secrets} if "KAFKA" in k]  # not for jobs


def test_the_client_gets_sasl_and_tls() -> None:
    options = KafkaOptions("a:1,b:2", "SASL_PLAINTEXT", sasl_username="u", sasl_password="p")
    args = options.client_args()
    assert args["bootstrap_servers"] == ["a:1", "b:2"]
    assert (args["sasl_mechanism"], args["sasl_plain_username"]) == ("PLAIN", "u")
    assert "ssl_context" not in args
    assert "ssl_context" in KafkaOptions("a:1", "SSL").client_args()


def test_a_bad_tenant_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_KAFKA_TENANT", "not a tenant")
    with pytest.raises(ConfigError, match="VATTI_KAFKA_TENANT"):
        Settings.for_component("engine")
