"""One typed configuration for the router, declared once and validated once at load.

    config = load_config("configs/config.yaml", os.environ)
    config.server.port, config.key_pool.keys[0].name, config.gemini.base_url

The declarations (`model.py`, read through `fields.py`), the loader (`load.py`), the value
readers (`readers.py`) and what a reload changed (`diff.py`).
"""

from hpn_router.config.load import NO_KEYS_HINT, load_config, parse_config
from hpn_router.config.model import (
    DEFAULT_EMBEDDING_MODEL,
    DEFAULT_GEMINI_BASE_URL,
    DEFAULT_INTERCEPT_HOSTS,
    DEFAULT_MODEL,
    DEFAULT_STATE_FILE,
    CacheConfig,
    ChargedPriceConfig,
    GeminiConfig,
    KeyConfig,
    KeyPoolConfig,
    LoggingConfig,
    PriceConfig,
    PricingConfig,
    QuotaLimit,
    RouterConfig,
    ServerConfig,
    StateConfig,
    key_fingerprint,
)
from hpn_router.config.readers import ConfigError

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_GEMINI_BASE_URL",
    "DEFAULT_INTERCEPT_HOSTS",
    "DEFAULT_MODEL",
    "DEFAULT_STATE_FILE",
    "NO_KEYS_HINT",
    "CacheConfig",
    "ConfigError",
    "GeminiConfig",
    "KeyConfig",
    "KeyPoolConfig",
    "LoggingConfig",
    "PriceConfig",
    "ChargedPriceConfig",
    "PricingConfig",
    "StateConfig",
    "QuotaLimit",
    "RouterConfig",
    "ServerConfig",
    "key_fingerprint",
    "load_config",
    "parse_config",
]
