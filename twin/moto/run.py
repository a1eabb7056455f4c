"""Entry point of the twin's moto_server: load the extension, then run moto's own server.

Usage: python twin/moto/run.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import os
import sys
import threading


def exit_with_parent() -> None:
    """The server ends when the process that started it does: that process holds the other end of
    stdin, and its exit (however it ends) closes it. A server shared between test files therefore
    never outlives the test worker that started it."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


if os.environ.get("TWIN_EXIT_WITH_PARENT") == "1":
    threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True).start()

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import twin_moto  # noqa: E402

twin_moto.install()

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    main(sys.argv[1:])
