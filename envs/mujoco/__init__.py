"""The MuJoCo task families of the MAML paper (half_cheetah.py, ant.py) on Gymnasium's v5 envs."""
