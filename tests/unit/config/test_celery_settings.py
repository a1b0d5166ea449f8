"""The Celery settings: what the executor and workers need, named when missing; no secret shown."""

from __future__ import annotations

import pytest

from vatti.config import COMPONENTS, CelerySettings, CeleryWorkerSettings, Settings, variables
from vatti.errors import ConfigError
from vatti.secretbox import new_key

pytestmark = pytest.mark.unit

KEY = new_key()


def problems(component: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.for_component(component)
    return caught.value.message.splitlines()[1:]


def test_a_worker_names_the_broker_and_the_key_it_misses() -> None:
    assert [line.partition(":")[0] for line in problems("worker")] == [
        "VATTI_CELERY_BROKER_URL",
        "VATTI_CELERY_SECRETS_KEY",
    ]


def test_the_engine_needs_them_only_for_the_celery_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings.for_component("engine").celery == CelerySettings()
    monkeypatch.setenv("VATTI_EXECUTOR", "celery")
    named = [line.partition(":")[0] for line in problems("engine")]
    assert named == ["VATTI_CELERY_BROKER_URL", "VATTI_CELERY_SECRETS_KEY"]


def test_a_rabbitmq_broker_needs_a_redis_state_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("VATTI_CELERY_SECRETS_KEY", KEY)
    assert [line.partition(":")[0] for line in problems("worker")] == ["VATTI_CELERY_STATE_URL"]
    monkeypatch.setenv("VATTI_CELERY_STATE_URL", "redis://127.0.0.1:6379/3")
    celery = Settings.for_component("worker").celery
    assert celery is not None
    assert celery.state_url() == "redis://127.0.0.1:6379/3"


def test_a_redis_broker_is_the_state_store_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_CELERY_BROKER_URL", "redis://:pw@127.0.0.1:6379/2")
    monkeypatch.setenv("VATTI_CELERY_SECRETS_KEY", KEY)
    celery = Settings.for_component("worker").celery
    assert celery is not None
    assert celery.state_url() == "redis://:pw@127.0.0.1:6379/2"


def test_invalid_values_are_named_without_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_CELERY_BROKER_URL", "sqs://AKIA:hunter2-secret@queue")
    monkeypatch.setenv("VATTI_CELERY_SECRETS_KEY", "not-a-key-hunter2")
    monkeypatch.setenv("VATTI_CELERY_QUEUES", "pgs")
    lines = problems("worker")
    assert [line.partition(":")[0] for line in lines] == [
        "VATTI_CELERY_BROKER_URL",
        "VATTI_CELERY_SECRETS_KEY",
        "VATTI_CELERY_QUEUES",
    ]
    assert "hunter2" not in "\n".join(lines)


def test_queues_per_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_CELERY_QUEUES", "pgs=big, command=small")
    monkeypatch.setenv("VATTI_CELERY_DEFAULT_QUEUE", "small")
    celery = CelerySettings.from_environment()
    assert celery.queue_map() == {"pgs": "big", "command": "small"}
    assert celery.all_queues() == ["small", "big"]


def test_the_worker_component_and_the_engine_list_the_celery_group() -> None:
    for component in ("worker", "engine"):
        assert CelerySettings in COMPONENTS[component].groups
    secret = {v.name for v in variables(CelerySettings) if v.secret}
    assert secret == {
        "VATTI_CELERY_BROKER_URL",
        "VATTI_CELERY_STATE_URL",
        "VATTI_CELERY_SECRETS_KEY",
    }


def test_what_only_a_worker_reads_is_listed_under_the_worker_alone() -> None:
    """`vatti config` shows each setting under the components that read it: the engine routes
    by the queues, only a worker reads its concurrency and pool."""
    own = {v.name for v in variables(CeleryWorkerSettings)}
    assert own == {"VATTI_CELERY_CONCURRENCY", "VATTI_CELERY_POOL"}
    assert CeleryWorkerSettings in COMPONENTS["worker"].groups
    for component in ("engine", "cli", "api", "runtime"):
        assert CeleryWorkerSettings not in COMPONENTS[component].groups
    shared = {v.name for v in variables(CelerySettings)}
    assert {"VATTI_CELERY_QUEUES", "VATTI_CELERY_DEFAULT_QUEUE"} <= shared
    assert not own & shared


def test_a_worker_names_a_bad_concurrency_or_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VATTI_CELERY_BROKER_URL", "redis://127.0.0.1:6379/2")
    monkeypatch.setenv("VATTI_CELERY_SECRETS_KEY", KEY)
    monkeypatch.setenv("VATTI_CELERY_CONCURRENCY", "0")
    monkeypatch.setenv("VATTI_CELERY_POOL", "threads")
    assert [line.partition(":")[0] for line in problems("worker")] == [
        "VATTI_CELERY_CONCURRENCY",
        "VATTI_CELERY_POOL",
    ]
    assert Settings.for_component("engine").engine is not None  # the engine does not read them


def test_several_keys_newest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    new, old = new_key(), new_key()
    monkeypatch.setenv("VATTI_CELERY_SECRETS_KEY", f"{new}, {old}")
    assert CelerySettings.from_environment().secrets_keys() == [new, old]
