"""Settings, read from the environment. Every variable here is documented in README.md."""
import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-secret-change-me"
DEV_JWT_SECRET = "dev-jwt-secret-change-me-0123456789abcdef"
ENVIRONMENTS = ("development", "test", "production")
# Problems found while reading the environment; create_app refuses to start on any (one line
# each, no traceback: see check_config and wsgi.py).
PROBLEMS: list[str] = []


class ConfigError(RuntimeError):
    """The configuration is unsafe or wrong: the app refuses to start, saying why in one line."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        PROBLEMS.append(f"{name} must be a whole number, not {raw!r}")
        return default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        instance = BASE_DIR / "instance"
        instance.mkdir(exist_ok=True)
        return f"sqlite:///{instance / 'standstrong.sqlite3'}"
    # Accept the common postgres:// spelling and use psycopg 3.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class Config:
    ENV_NAME = os.environ.get("STANDSTRONG_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET)
    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY", DEV_JWT_SECRET)
    SQLALCHEMY_DATABASE_URI = _database_url()
    DATABASE_URL_GIVEN = bool(os.environ.get("DATABASE_URL"))
    # hide_parameters: an exception's text never carries the values of the statement (notes, ids).
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True}
    # A full offline batch (500 sessions with long notes in Chinese) fits under 4 MiB.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 4 * 1024 * 1024)

    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=_int("ACCESS_TOKEN_SECONDS", 15 * 60))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(seconds=_int("REFRESH_TOKEN_SECONDS", 30 * 24 * 3600))
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ERROR_MESSAGE_KEY = "detail"

    PASSWORD_MIN_LENGTH = _int("PASSWORD_MIN_LENGTH", 10)
    # Argon2id cost; tests lower these so the suite stays fast.
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _int("ARGON2_MEMORY_COST", 65536)
    ARGON2_PARALLELISM = _int("ARGON2_PARALLELISM", 1)

    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCKOUT_SECONDS = _int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
    LOGIN_RATE_LIMIT_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_ADDRESS", "20 per minute")
    LOGIN_RATE_LIMIT_ACCOUNT = os.environ.get("LOGIN_RATE_LIMIT_ACCOUNT", "10 per minute")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_ENABLED = os.environ.get("RATELIMIT_ENABLED", "1") == "1"

    INVITATION_TTL_HOURS = _int("INVITATION_TTL_HOURS", 72)
    PASSWORD_RESET_TTL_MINUTES = _int("PASSWORD_RESET_TTL_MINUTES", 30)
    SESSION_EDIT_WINDOW_HOURS = _int("SESSION_EDIT_WINDOW_HOURS", 72)
    SESSION_BACKFILL_DAYS = _int("SESSION_BACKFILL_DAYS", 30)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed
    # (werkzeug ProxyFix); 0: none, the client address is the socket's.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)

    # E-mail (app/common/mail.py). No MAIL_SERVER: e-mail is off.
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "0") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_FROM = os.environ.get("MAIL_FROM", "StandStrong <no-reply@standstrong.local>")
    MAIL_TIMEOUT_SECONDS = _int("MAIL_TIMEOUT_SECONDS", 10)

    # Reminders and their delivery (app/reminders/), the scheduler process (app/scheduler.py).
    REMINDER_HORIZON_HOURS = _int("REMINDER_HORIZON_HOURS", 36)
    REMINDER_DEFAULT_TIME = os.environ.get("REMINDER_DEFAULT_TIME", "09:00")
    REMINDER_BUNDLE_MINUTES = _int("REMINDER_BUNDLE_MINUTES", 10)
    REMINDER_LATER_TODAY_HOURS = _int("REMINDER_LATER_TODAY_HOURS", 3)
    DISPATCH_BATCH_SIZE = _int("DISPATCH_BATCH_SIZE", 500)
    DISPATCH_MAX_ATTEMPTS = _int("DISPATCH_MAX_ATTEMPTS", 5)
    DISPATCH_RETRY_SECONDS = _int("DISPATCH_RETRY_SECONDS", 60)
    DISPATCH_CLAIM_TIMEOUT_SECONDS = _int("DISPATCH_CLAIM_TIMEOUT_SECONDS", 300)
    FCM_ENDPOINT = os.environ.get("FCM_ENDPOINT", "https://fcm.googleapis.com")
    FCM_PROJECT_ID = os.environ.get("FCM_PROJECT_ID", "")
    FCM_ACCESS_TOKEN = os.environ.get("FCM_ACCESS_TOKEN", "")
    FCM_ACCESS_TOKEN_FILE = os.environ.get("FCM_ACCESS_TOKEN_FILE", "")
    FCM_TIMEOUT_SECONDS = _int("FCM_TIMEOUT_SECONDS", 10)
    SCHEDULER_LEASE_SECONDS = _int("SCHEDULER_LEASE_SECONDS", 30)
    SCHEDULER_POLL_SECONDS = _int("SCHEDULER_POLL_SECONDS", 10)
    SCHEDULER_MATERIALISE_SECONDS = _int("SCHEDULER_MATERIALISE_SECONDS", 900)
    SCHEDULER_DISPATCH_SECONDS = _int("SCHEDULER_DISPATCH_SECONDS", 30)

    # The coordinators' console (app/console/): its session cookie is Secure (HTTPS only) unless
    # CONSOLE_COOKIE_SECURE=0, which development and tests set for plain-HTTP localhost.
    CONSOLE_COOKIE_SECURE = os.environ.get(
        "CONSOLE_COOKIE_SECURE", "0" if ENV_NAME in ("development", "test") else "1") == "1"
    CONSOLE_SESSION_HOURS = _int("CONSOLE_SESSION_HOURS", 8)

    API_TITLE = "StandStrong API"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/docs/assets/"  # app/common/docs.py serves them
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "StandStrong: home bone-health programmes after spinal cord injury. Authenticate with "
                "`Authorization: Bearer <access token>` from /api/v1/auth/login. Every error is RFC 9457 "
                "application/problem+json. IDs are UUIDs; requests send times as ISO 8601 with offset, answers "
                "give every moment in UTC ending in Z (2027-03-03T02:30:00Z); a patient's day "
                "is their local date. A patient, or a caregiver of one patient, may write `me` for "
                "{patient_id}. Education is general information, not personal medical advice."
            )
        }
    }


class TestConfig(Config):
    TESTING = True
    ENV_NAME = "test"
    CONSOLE_COOKIE_SECURE = False
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    LOGIN_RATE_LIMIT_ADDRESS = "10000 per minute"
    LOGIN_RATE_LIMIT_ACCOUNT = "10000 per minute"
    LOG_LEVEL = "WARNING"


def check_config(config) -> None:
    """Refuse to start on a configuration that is wrong or unsafe (ConfigError, one line)."""
    problems = list(PROBLEMS)
    env = config.get("ENV_NAME")
    if env not in ENVIRONMENTS:
        problems.append(f"STANDSTRONG_ENV is {env!r}; use one of {', '.join(ENVIRONMENTS)}")
    if env == "production" and not config.get("DATABASE_URL_GIVEN"):
        problems.append("production needs DATABASE_URL (it will not quietly use a local SQLite file)")
    if config.get("TRUSTED_PROXIES", 0) < 0:
        problems.append("TRUSTED_PROXIES cannot be negative")
    if problems:
        raise ConfigError("; ".join(problems))
    check_production_secrets(config)


def check_production_secrets(config) -> None:
    """Refuse to serve production with the development secrets."""
    if config.get("ENV_NAME") != "production":
        return
    weak = [
        name
        for name, dev in (("SECRET_KEY", DEV_SECRET), ("JWT_SECRET_KEY", DEV_JWT_SECRET))
        if not config.get(name) or config.get(name) == dev or len(config.get(name)) < 32
    ]
    if weak:
        raise ConfigError(
            "Refusing to start in production with development or short secrets: " + ", ".join(weak)
        )
