"""A module read by ``from ghc_star import *``."""

P_STAR = 1
