"""A second tracked module reading the owner's attributes."""

import ghc_probe
import ghc_star
from ghc_probe import P_FROM_IMPORT  # noqa: F401
from ghc_star import *  # noqa: F401,F403


def read_attribute():
    return ghc_probe.P_ATTRIBUTE


def read_getattr():
    return getattr(ghc_probe, "P_GETATTR")


def read_hasattr():
    return hasattr(ghc_probe, "P_HASATTR")


def write_attribute():
    ghc_probe.P_SETATTR = 1
