"""A small network for ``condiag model`` (sample_problems/regression.npz holds data for it):

    condiag model sample_problems/mlp.py:mlp --data sample_problems/regression.npz --lr 0.1 --lr 1
"""

import torch


def mlp():
    """3 → 16 → 1 with tanh; PyTorch's default initialisation (seeded by condiag's --seed)."""
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
