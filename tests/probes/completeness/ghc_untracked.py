"""A module globalhook does not track, reading a tracked module's attribute."""

import ghc_probe


def read_attribute():
    return ghc_probe.P_ATTRIBUTE_UNTRACKED
