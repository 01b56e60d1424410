"""Channel-variable names shared by the Python code and the shipped Asterisk config (OPS-3)."""
