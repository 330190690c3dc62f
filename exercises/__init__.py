"""Exercise definitions as TOML data (one file per exercise), their loader and validation."""
