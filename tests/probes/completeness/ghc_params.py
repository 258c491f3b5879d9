"""Type parameters (3.12+ syntax): bounds are evaluated lazily, in the class scope."""

P_TYPE_PARAM = int


class Box[T: P_TYPE_PARAM]:
    pass
