# syntax=docker/dockerfile:1
# Claude face: `python server_oauth.py` on port 8008 (list_tables, describe_table, execute_sql, get_table_sample).
# Dockerfile.chatgpt builds the ChatGPT face from the same base stage; tests/test_deploy_docker.py keeps the
# two base stages identical and runs each file's CMD and HEALTHCHECK against a real server.

# ---- base: shared by Dockerfile and Dockerfile.chatgpt (keep identical) ----
FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
# The ODBC drivers come from the same script CI runs (scripts/bootstrap.sh calls it too).
COPY requirements.txt ./
COPY scripts/install-odbc.sh scripts/
RUN INSTALL_ODBC_CLEAN_APT=1 scripts/install-odbc.sh python \
    && pip install --no-cache-dir -r requirements.txt
# A fixed numeric user, so Kubernetes' runAsNonRoot and volume ownership can be checked without a passwd lookup.
RUN groupadd --system --gid 10001 mcp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin mcp \
    && mkdir -p /app/data \
    && chown 10001:10001 /app/data
COPY mssql_mcp/ mssql_mcp/
COPY server_oauth.py server_chatgpt.py ./
# data/ holds the demo database and the OAuth store: docker-compose.prod.yml mounts a named volume there.
VOLUME ["/app/data"]
USER 10001:10001
# Inside the container the app binds every interface; only nginx publishes a port (docker-compose.prod.yml).
ENV HOST=0.0.0.0
# ---- end of base ----

FROM base AS claude
ENV PORT=8008
EXPOSE 8008
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8008') + '/health', timeout=4)"]
CMD ["python", "server_oauth.py"]
