"""Cluster gateway over the kubernetes client: kubeconfig, probing, Longhorn CRs. No Qt."""
