# The vatti image: the API (vatti serve), the engine (vatti engine), the Celery worker
# (vatti worker) and the job runtime (its entry point, `vatti job-run`). A job pod of the
# Kubernetes executor gets its own command (`python -m vatti.executors.kubernetes_pod`, the
# wrapper that hands the job's Secret to the runtime). The Helm chart (deploy/helm/vatti) runs
# it as vatti:APPVERSION and gives each Deployment its command.
#
#   docker build -t vatti:0.1.0 .
#
# No image is built by this project's tests (no container runtime there); tests/unit/deploy
# checks this file's rules instead.

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

# ---- build: vatti with the drivers a deployment uses, in a virtual environment
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/vatti \
    && /opt/vatti/bin/pip install --no-cache-dir ".[postgres,s3,celery,ancestry,kafka,oidc,k8s]"

# ---- runtime: the environment, plink2 from Debian, a non-root user
FROM ${PYTHON_IMAGE} AS runtime
# hadolint-style: pinned by the base's exact tag; Debian's packages from the same release
RUN apt-get update \
    && apt-get install -y --no-install-recommends plink2 tini \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 vatti \
    && useradd --system --uid 10001 --gid vatti --home-dir /var/lib/vatti --shell /usr/sbin/nologin vatti \
    && mkdir -p /var/lib/vatti \
    && chown vatti:vatti /var/lib/vatti
COPY --from=build /opt/vatti /opt/vatti
ENV PATH=/opt/vatti/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VATTI_DATA_DIR=/var/lib/vatti
WORKDIR /var/lib/vatti
USER 10001:10001
ENTRYPOINT ["tini", "--", "vatti", "job-run"]
