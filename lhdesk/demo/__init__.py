"""The demo cluster: a Longhorn simulator and a built-in Kubernetes API server. No Qt."""
