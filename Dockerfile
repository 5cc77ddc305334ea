# The swapwatch image: `swapwatch collect` and `swapwatch detect --kafka` (deploy/compose,
# deploy/k8s). Build from the repository root:  docker build -t swapwatch:0.1.0 .
# The tag follows the version in pyproject.toml (tests/test_deploy_images.py checks the
# manifests use it).
FROM python:3.11-slim

# No bytecode written at run time (read-only root filesystem in Kubernetes), logs unbuffered.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY detector ./detector
COPY instrumentation ./instrumentation
# A regular (not editable) install: the image needs no source tree at run time.
RUN pip install '.[detector,collector]' && rm -rf /src

# An unprivileged user whose state lives on a mounted volume (detector state, alert log).
RUN useradd --uid 10001 --no-create-home --home-dir /var/lib/swapwatch swapwatch \
    && mkdir -p /var/lib/swapwatch/state && chown -R 10001:10001 /var/lib/swapwatch
USER 10001
WORKDIR /var/lib/swapwatch

# collect: OTLP gRPC 4317 and HTTP 4318 (/healthz on 4318); detect: /metrics and /healthz 9464
EXPOSE 4317 4318 9464
ENTRYPOINT ["swapwatch"]
CMD ["--help"]
