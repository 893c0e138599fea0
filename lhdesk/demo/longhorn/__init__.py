"""The simulated Longhorn: admission webhooks, controllers, install and seed of the demo cluster."""
