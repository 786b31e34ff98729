"""One settings object for the CLI, the pipeline and the service (env vars, `.env`)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from movierec import resources


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

    es_url: str = Field("http://127.0.0.1:9200", alias="ES_URL")
    es_timeout_s: float = Field(5.0, alias="ES_TIMEOUT_S")
    # Per API worker; requests beyond it wait for a free connection (the client's default is 10).
    es_connections: int = Field(32, ge=1, alias="ES_CONNECTIONS")
    spark_master: str = Field("local[*]", alias="SPARK_MASTER")
    spark_driver_memory: str = Field("2g", alias="SPARK_DRIVER_MEMORY")
    index_prefix: str = Field("movierec-", alias="MOVIEREC_INDEX_PREFIX")
    # Downloaded datasets (`movierec data download`); the bundled sample ships in the package.
    data_dir: Path = Field(default_factory=lambda: default_home() / "data", alias="MOVIEREC_DATA_DIR")
    runs_dir: Path = Field(default_factory=lambda: default_home() / "runs", alias="MOVIEREC_RUNS_DIR")
    api_key: str | None = Field(None, alias="MOVIEREC_API_KEY")
    # true: no taste profile for a user until they consent (opt-in); false: until they object (opt-out).
    consent_required: bool = Field(False, alias="MOVIEREC_CONSENT_REQUIRED")

    # The local node that `movierec es up` manages.
    es_version: str = Field("9.5.3", alias="MOVIEREC_ES_VERSION")
    es_home: Path = Field(default_factory=lambda: default_home() / "es", alias="MOVIEREC_ES_HOME")
    es_heap: str = Field("1g", alias="MOVIEREC_ES_HEAP")
    es_user: str = Field("movierec-es", alias="MOVIEREC_ES_USER")

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
