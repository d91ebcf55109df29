"""IFDL-VLM: classify (real / fully synthetic / tampered), localize, and explain in words."""
