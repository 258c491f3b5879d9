"""A small program with something for globalhook to find.

Run it with:  python -m globalhook run examples/quickstart.py
Then:         python -m globalhook report
"""

import threading

CONFIG = {"retries": 3, "greeting": "hello"}
_cache = {}


def greet(name):
    # Reads the module global CONFIG and the builtin str.
    return f"{CONFIG['greeting']}, {str(name).title()}"


def cached_square(n):
    # Hidden global state: _cache is shared by every caller.
    if n not in _cache:
        _cache[n] = n * n
    return _cache[n]


def risky():
    # A name that exists nowhere: the program gets a NameError, globalhook records "missing".
    try:
        return undefined_setting  # noqa: F821
    except NameError:
        return None


class Retrier:
    def run(self, func):
        for _ in range(CONFIG["retries"]):
            result = func()
            if result is not None:
                return result
        return "gave up"


def main():
    print(greet("world"))
    print(sum(cached_square(i % 10) for i in range(100)))
    print(Retrier().run(risky))
    workers = [threading.Thread(target=cached_square, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
