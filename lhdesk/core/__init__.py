"""Pure Longhorn rules and models: no Qt, no network clients."""
