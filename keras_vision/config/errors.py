"""`ConfigError`: a bad recipe name, recipe argument or config key."""


class ConfigError(ValueError):
    """A bad recipe name, recipe argument or config key (the CLI exits with code 2)."""
