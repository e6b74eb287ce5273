"""Test doubles: stand-ins for what cannot run here (a kubelet, a CSI driver, Gardener, KubeVirt,
AWS, a storage cluster), each speaking the real protocol at the real boundary."""
