"""Where each part of the local production profile lives, and the environment they all share.

Every name and port has a default and an environment variable, so that several profiles (the
tests', a developer's) can run on one machine side by side.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from flightpath.home import bentoml_home, data_home

ROOT = Path(__file__).resolve().parents[2]
FEAST_PROFILE = "feature_store.production.yaml"
S3_CREDENTIALS = "flightpath"  # the local S3 server accepts any; a real one reads its own


@dataclass(frozen=True)
class Profile:
    home: str
    database: str  # Dagster's runs, event log and schedules
    feast_database: str  # Feast's SQL registry
    feast_project: str  # also the prefix of this profile's keys in Redis
    bucket: str
    postgres_host: str
    postgres_port: int
    postgres_user: str
    redis: str
    ui_port: int
    code_port: int
    service_port: int
    s3_port: int

    @classmethod
    def from_env(cls) -> Profile:
        get = os.environ.get
        database = get("FLIGHTPATH_PROD_DB", "flightpath_prod")
        return cls(
            home=str(data_home()),
            database=database,
            feast_database=f"{database}_feast",
            feast_project=get("FLIGHTPATH_FEAST_PROJECT", database),
            bucket=get("FLIGHTPATH_PROD_BUCKET", database.replace("_", "-")),
            postgres_host=get("DAGSTER_PG_HOST", "127.0.0.1"),
            postgres_port=int(get("DAGSTER_PG_PORT", "5432")),
            postgres_user=get("DAGSTER_PG_USERNAME", "postgres"),
            redis=get("FEAST_REDIS", "127.0.0.1:6379"),
            ui_port=int(get("FLIGHTPATH_PROD_UI_PORT", "3070")),
            code_port=int(get("FLIGHTPATH_PROD_CODE_PORT", "4270")),
            service_port=int(get("FLIGHTPATH_PROD_SERVICE_PORT", "3071")),
            s3_port=int(get("FLIGHTPATH_PROD_S3_PORT", "9070")),
        )

    @property
    def state(self) -> Path:
        """Pids, logs, the Dagster instance: everything prod-up writes."""
        return Path(self.home) / "prod"

    @property
    def dagster_home(self) -> Path:
        return self.state / "dagster"

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def storage_url(self) -> str:
        return f"s3://{self.bucket}/flightpath"

    def postgres_url(self, database: str, driver: str = "psycopg") -> str:
        password = os.environ.get("DAGSTER_PG_PASSWORD", "")
        login = f"{self.postgres_user}:{password}" if password else self.postgres_user
        return f"postgresql+{driver}://{login}@{self.postgres_host}:{self.postgres_port}/{database}"

    def api_key(self) -> str:
        """The service's key: FLIGHTPATH_API_KEYS's first, or one made once and kept (0600)."""
        given = os.environ.get("FLIGHTPATH_API_KEYS", "")
        if given:
            return given.split(",")[0]
        path = self.state / "api_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def environment(self) -> dict[str, str]:
        """The variables every process of the profile runs with (on top of the caller's)."""
        path = os.environ.get("PYTHONPATH")
        return {
            **os.environ,
            "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT),
            "FLIGHTPATH_HOME": self.home,
            "DAGSTER_HOME": str(self.dagster_home),
            "DAGSTER_PG_HOST": self.postgres_host,
            "DAGSTER_PG_PORT": str(self.postgres_port),
            "DAGSTER_PG_USERNAME": self.postgres_user,
            "DAGSTER_PG_PASSWORD": os.environ.get("DAGSTER_PG_PASSWORD", ""),
            "DAGSTER_PG_DB": self.database,
            "FLIGHTPATH_MAX_CONCURRENT_RUNS": os.environ.get("FLIGHTPATH_MAX_CONCURRENT_RUNS", "2"),
            "FLIGHTPATH_COMPUTE_LOG_DIR": str(self.state / "compute_logs"),
            "FLIGHTPATH_FEAST_PROFILE": FEAST_PROFILE,
            "FLIGHTPATH_FEAST_PROJECT": self.feast_project,
            "FEAST_REDIS": self.redis,
            "FEAST_REGISTRY_URL": self.postgres_url(self.feast_database),
            "FLIGHTPATH_STORAGE_URL": self.storage_url,
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": S3_CREDENTIALS,
            "AWS_SECRET_ACCESS_KEY": S3_CREDENTIALS,
            "AWS_REGION": "us-east-1",
            "FLIGHTPATH_API_KEYS": os.environ.get("FLIGHTPATH_API_KEYS") or self.api_key(),
            # The service's API workers: one per core unless FLIGHTPATH_WORKERS (in os.environ
            # above) says; one per pod on Kubernetes, where replicas scale.
            "BENTOML_HOME": str(bentoml_home(Path(self.home))),
            "GX_ANALYTICS_ENABLED": "false",
        }

    def save(self, processes: dict[str, int]) -> None:
        """What prod-down needs: the profile and the process groups it started."""
        record = {"profile": asdict(self), "processes": processes}
        (self.state / "processes.json").write_text(json.dumps(record, indent=2))


def saved(state: Path) -> tuple[Profile, dict[str, int]] | None:
    """The profile and the process groups a prod-up recorded under `state`, if any."""
    path = state / "processes.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return Profile(**record["profile"]), {k: int(v) for k, v in record["processes"].items()}
