"""Detective SAM: perturbation-shift prompts for a frozen SAM (ICLR 2026)."""
