"""The hostpath CSI driver of the dev cluster, one module per component it plays."""
