"""Evaluation (paper sec. 4.1): metrics, boundary metrics, protocols, the one evaluation loop, scoring."""
