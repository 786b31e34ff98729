"""One settings object for the CLI, the pipeline and the service (env vars, `.env`)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from movierec import resources
from movierec.connection import EsConnection


def default_home() -> Path:
    """Where writable state goes by default: never into site-packages or the source tree.

    As root, a per-user folder would be under /root (mode 700), which the unprivileged user the
    local Elasticsearch node runs as cannot read; /var/lib/movierec is readable by it.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/movierec")
    return user_data_path("movierec", appauthor=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # One or several comma-separated node URLs; the clients spread requests and fail over between them.
    es_url: str = Field("http://127.0.0.1:9200", alias="ES_URL")
    es_timeout_s: float = Field(5.0, alias="ES_TIMEOUT_S")
    es_max_retries: int = Field(3, ge=0, le=10, alias="ES_MAX_RETRIES")
    es_cloud_id: str | None = Field(None, alias="ES_CLOUD_ID")
    es_api_key: SecretStr | None = Field(None, alias="ES_API_KEY")  # encoded, or "id:key"
    es_username: str | None = Field(None, alias="ES_USERNAME")
    es_password: SecretStr | None = Field(None, alias="ES_PASSWORD")
    es_ca_certs: Path | None = Field(None, alias="ES_CA_CERTS")
    es_verify_certs: bool = Field(True, alias="ES_VERIFY_CERTS")
    # Per API worker; requests beyond it wait for a free connection (the client's default is 10).
    es_connections: int = Field(32, ge=1, alias="ES_CONNECTIONS")
    spark_master: str = Field("local[*]", alias="SPARK_MASTER")
    spark_driver_memory: str = Field("2g", alias="SPARK_DRIVER_MEMORY")
    index_prefix: str = Field("movierec-", alias="MOVIEREC_INDEX_PREFIX")
    # Replicas of every index movierec creates: "auto" follows the cluster (0 on one data node, 1 on
    # more: Elasticsearch's auto_expand_replicas 0-1), or a fixed number 0..9.
    replicas: str = Field("auto", pattern=r"(?i)^\s*(auto|[0-9])\s*$", alias="MOVIEREC_REPLICAS")
    # Downloaded datasets (`movierec data download`); the bundled sample ships in the package.
    data_dir: Path = Field(default_factory=lambda: default_home() / "data", alias="MOVIEREC_DATA_DIR")
    runs_dir: Path = Field(default_factory=lambda: default_home() / "runs", alias="MOVIEREC_RUNS_DIR")
    # Run folders kept (model card, rejected rows with their line numbers, checkpoints); older ones go.
    runs_retention: int = Field(5, ge=1, le=1000, alias="MOVIEREC_RUNS_RETENTION")
    # Backups (`movierec backup` / `restore`): Elasticsearch snapshots into this repository. When it is
    # not registered yet, an fs repository at MOVIEREC_SNAPSHOT_LOCATION (relative to the node's
    # path.repo, which `es up` sets) is registered; empty: never register, the repository (any type:
    # fs, s3, gcs, azure) must exist.
    snapshot_repository: str = Field("movierec-backups", alias="MOVIEREC_SNAPSHOT_REPOSITORY")
    snapshot_location: str = Field("movierec", alias="MOVIEREC_SNAPSHOT_LOCATION")
    api_key: str | None = Field(None, alias="MOVIEREC_API_KEY")
    # Request bodies above this answer 413 (paths ending in `:bulk` enforce their own, larger limit).
    max_body_bytes: int = Field(1_000_000, ge=1024, alias="MOVIEREC_MAX_BODY_BYTES")
    # Per-client (IP) token bucket: requests per second, 0 = off (the default and the demo's). The bucket is
    # in-process, so with N uvicorn workers a client gets up to N times this.
    rate_limit_per_s: float = Field(0.0, ge=0.0, allow_inf_nan=False, alias="MOVIEREC_RATE_LIMIT")
    rate_limit_burst: int = Field(20, ge=1, alias="MOVIEREC_RATE_LIMIT_BURST")
    # POST /ratings:bulk has its own body limit (413 above it): 10,000 events of about 100 bytes each
    # with room to spare; the default limit of the other routes is far smaller.
    # false: rating writes refold only the user (no live movie statistics or audience sums), as before
    # issue 14; benchmarks/writes.py compares both.
    live_updates: bool = Field(True, alias="MOVIEREC_LIVE_UPDATES")
    max_bulk_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024, alias="MOVIEREC_MAX_BULK_BODY_BYTES"
    )
    # true: no taste profile for a user until they consent (opt-in); false: until they object (opt-out).
    consent_required: bool = Field(False, alias="MOVIEREC_CONSENT_REQUIRED")

    # Kibana, for `movierec dashboards import`: an API key, or a user name and password. Secrets are
    # SecretStr, so they never show in a repr, a log line or an error message.
    kibana_url: str = Field("http://127.0.0.1:5601", alias="KIBANA_URL")
    kibana_api_key: SecretStr | None = Field(None, alias="KIBANA_API_KEY")
    kibana_username: str | None = Field(None, alias="KIBANA_USERNAME")
    kibana_password: SecretStr | None = Field(None, alias="KIBANA_PASSWORD")

    # The local node that `movierec es up` manages.
    es_version: str = Field("9.5.3", alias="MOVIEREC_ES_VERSION")
    es_home: Path = Field(default_factory=lambda: default_home() / "es", alias="MOVIEREC_ES_HOME")
    es_heap: str = Field("1g", alias="MOVIEREC_ES_HEAP")
    es_user: str = Field("movierec-es", alias="MOVIEREC_ES_USER")

    def es_connection(self, *, request_timeout: float | None = None) -> EsConnection:
        """How to reach Elasticsearch (raises BadInput naming the setting that is wrong)."""

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() or None if value is not None else None

        return EsConnection.parse(
            self.es_url if not self.es_cloud_id else "",
            cloud_id=self.es_cloud_id or None,
            api_key=secret(self.es_api_key),
            username=self.es_username or None,
            password=secret(self.es_password),
            ca_certs=str(self.es_ca_certs) if self.es_ca_certs else None,
            verify_certs=self.es_verify_certs,
            request_timeout=request_timeout or self.es_timeout_s,
            max_retries=self.es_max_retries,
        )

    @property
    def consent_default(self) -> bool:
        """Whether a user without a consent record may be personalised."""
        return not self.consent_required

    @property
    def bundled_dataset(self) -> Path:
        return resources.bundled_dataset()


@lru_cache
def get_settings() -> Settings:
    return Settings()
